import { Distiller, fitStages, hardLabel, softTargets, trainStudentUpTo } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { convNet, disposeData, layerVariables, leakedTensors, maxChange, mlp, snapshot, toyData } from '../test/helpers';
import { type FitnetState, fitnet } from './fitnet';

describe('fitnet plugin, single stage (RepDistiller: ce + 100 * hint)', () => {
  it('trains student and regressor jointly, lowers the hint term, leaks nothing per epoch', async () => {
    const data = toyData(128, [10], 3, 1);
    const teacher = mlp(10, [24, 16], 3, 10, 't');
    const student = mlp(10, [8, 6], 3, 20, 's');
    const plugin = fitnet({ student: 's_h1', teacher: 't_h2', weight: 100 });
    const distiller = new Distiller({ student, teacher, optimizer: tf.train.sgd(0.01), seed: 1 }).use(hardLabel()).use(plugin);
    expect(distiller.describe()).toBe('Loss = 1*ce + 100*fitnet');
    const first = await distiller.fit(data, { epochs: 1, batchSize: 32 });
    let regressorBefore: Float32Array[] = [];
    const state = (distiller as unknown as { slots: { state: FitnetState }[] }).slots[1]!.state;
    expect(state.regressor.describe()).toBe('linear [8] -> [16]');
    regressorBefore = snapshot(state.regressor.variables);
    const leaked = await leakedTensors(() => distiller.fit(data, { epochs: 6, batchSize: 32 }));
    expect(leaked).toBe(0);
    const history = distiller['history' as keyof Distiller] as unknown as { terms: Record<string, number> }[];
    expect(history.at(-1)!.terms['fitnet']!).toBeLessThan(first.epochs[0]!.terms['fitnet']! * 0.8);
    expect(maxChange(regressorBefore, state.regressor.variables)).toBeGreaterThan(1e-4);
    const saved = plugin.state!(state);
    expect(Object.keys(saved.tensors)).toEqual(['kernel', 'bias']);
    distiller.dispose();
    disposeData(data);
  });

  it('conv maps (student 2x2 vs teacher 4x4: transposed conv + batch norm + relu) train on cpu', async () => {
    const data = toyData(8, [4, 4, 1], 2, 2);
    const teacher = convNet(4, 3, 1, 2, 30, 'tc'); // tc_map [4, 4, 3]
    const student = convNet(4, 2, 2, 2, 40, 'sc'); // sc_map [2, 2, 2]
    const distiller = new Distiller({ student, teacher, optimizer: tf.train.sgd(0.05), seed: 2 })
      .use(hardLabel())
      .use(fitnet({ student: 'sc_map', teacher: 'tc_map', weight: 10 }));
    await distiller.fit(data, { epochs: 1, batchSize: 4 });
    const state = (distiller as unknown as { slots: { state: FitnetState }[] }).slots[1]!.state;
    expect(state.regressor.kind).toBe('transposed-conv');
    const before = snapshot(state.regressor.variables);
    let terms: Record<string, number> = {};
    const leaked = await leakedTensors(async () => {
      const h = await distiller.fit(data, { epochs: 2, batchSize: 4 });
      terms = h.epochs.at(-1)!.terms;
    });
    expect(leaked).toBe(0);
    expect(Number.isFinite(terms['fitnet'])).toBe(true);
    expect(maxChange(before, state.regressor.variables)).toBeGreaterThan(1e-5);
    distiller.dispose();
    disposeData(data);
  });

  it('reports unknown layers (core), rank mismatch and bad options with the plugin name', async () => {
    const data = toyData(16, [4, 4, 1], 2, 3);
    const teacher = convNet(4, 3, 1, 2, 50, 'tq');
    const student = mlp(16, [4], 2, 60, 'sq');
    const flat = { x: tf.reshape(data.x, [16, 16]), y: data.y };
    const unknown = new Distiller({ student, teacher: mlp(16, [4], 2, 61, 'tm'), optimizer: tf.train.sgd(0.1) }).use(
      fitnet({ student: 'sq_h9', teacher: 'tm_h1' }),
    );
    await expect(unknown.fit(flat, { epochs: 1 })).rejects.toThrow(/No layer named "sq_h9" in the student model/);
    const convStudent = convNet(4, 2, 1, 2, 70, 'sr');
    const rank = new Distiller({ student: convStudent, teacher, optimizer: tf.train.sgd(0.1) }).use(
      fitnet({ student: 'sr_map', teacher: 'tq_flat' }),
    );
    await expect(rank.fit(data, { epochs: 1 })).rejects.toThrow(
      /Plugin "fitnet" \(student "sr_map" -> teacher "tq_flat"\): FitNet regressor: the student feature has rank 4 and the teacher hint rank 2/,
    );
    const relation = new Distiller({ student: convNet(4, 2, 1, 2, 71, 'su'), teacher, optimizer: tf.train.sgd(0.1) }).use(
      fitnet({ student: 'su_map', teacher: 'tq_map' }),
    );
    expect(await relation.fit(data, { epochs: 1, batchSize: 8 }).then(() => 'ok')).toBe('ok'); // same size: conv 1x1
    relation.dispose();
    expect(() => fitnet({ student: '', teacher: 'x' })).toThrow(/fitnet: option "student"/);
    expect(() => fitnet({ student: 'a', teacher: 'b', weight: Number.NaN })).toThrow(/fitnet: option "weight"/);
    tf.dispose(flat.x);
    disposeData(data);
  });
});

describe("fitnet, the paper's two stages through fitStages", () => {
  it('stage 1 trains only the student up to the guided layer + regressor; stage 2 (KD) trains the whole student', async () => {
    const data = toyData(96, [10], 3, 4);
    const teacher = mlp(10, [24, 16], 3, 80, 'tt');
    const student = mlp(10, [8, 6], 3, 90, 'ss');
    const guided = layerVariables(student, 'ss_h1');
    const rest = [...layerVariables(student, 'ss_h2'), ...layerVariables(student, 'ss_logits')];
    const start = { guided: snapshot(guided), rest: snapshot(rest) };
    const teacherWeights = teacher.weights.map((w) => w.read() as tf.Variable);
    const teacherStart = snapshot(teacherWeights);
    const optimizers = [tf.train.sgd(0.02), tf.train.sgd(0.05)];
    const checks: Record<string, number> = {};
    const leaked = await leakedTensors(() =>
      fitStages(
        {
          student,
          teacher,
          seed: 5,
          stages: [
            {
              name: 'hints',
              plugins: [fitnet({ student: 'ss_h1', teacher: 'tt_h2' })],
              epochs: 3,
              optimizer: optimizers[0]!,
              trainable: trainStudentUpTo(student, 'ss_h1'),
              fit: { batchSize: 32 },
            },
            {
              name: 'kd',
              plugins: [hardLabel({ weight: 0.1 }), softTargets({ temperature: 4, weight: 0.9 })],
              epochs: 2,
              optimizer: optimizers[1]!,
              fit: { batchSize: 32 },
            },
          ],
        },
        data,
        {
          onStageStart: ({ index, distiller }) => {
            if (index === 1) {
              checks['afterHintsGuided'] = maxChange(start.guided, guided);
              checks['afterHintsRest'] = maxChange(start.rest, rest);
              expect(distiller.describe()).toBe('Loss = 0.1*ce + 0.9*kd(T=4)');
            }
          },
          onStageEnd: ({ index, distiller, history }) => {
            if (index === 0) {
              const state = (distiller as unknown as { slots: { state: FitnetState }[] }).slots[0]!.state;
              checks['regressorVariables'] = state.regressor.variables.length;
              checks['hintFirst'] = history.epochs[0]!.terms['fitnet']!;
              checks['hintLast'] = history.epochs.at(-1)!.terms['fitnet']!;
            }
          },
        },
      ),
    );
    expect(leaked).toBe(0); // the regressor is disposed with stage 1
    expect(checks['afterHintsGuided']!).toBeGreaterThan(1e-4);
    expect(checks['afterHintsRest']).toBe(0); // exactly: outside the stage's trainable set
    expect(checks['regressorVariables']).toBe(2);
    expect(checks['hintLast']!).toBeLessThan(checks['hintFirst']!);
    expect(maxChange(start.rest, rest)).toBeGreaterThan(1e-4); // stage 2 trained them
    expect(maxChange(teacherStart, teacherWeights)).toBe(0);
    optimizers.forEach((o) => o.dispose());
    disposeData(data);
  });
});
