import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { disposeData, leakedTensors, mlp, toyData } from '../test/helpers';
import { Distiller } from './distiller';
import { DistillationError } from './errors';
import { definePlugin } from './plugin';
import { hardLabel } from './plugins/hardLabel';
import { softTargets } from './plugins/softTargets';
import { tensorSource } from './source';
import { fitStages, layersUpTo, trainStudentLayers, trainStudentUpTo } from './stages';

/** input(6) -> s_h1(8) -> s_h2(8) -> logits(3). */
function deepStudent(seed: number): tfl.LayersModel {
  const model = tfl.sequential({ name: `deep${seed}` });
  model.add(
    tfl.layers.dense({
      inputShape: [6],
      units: 8,
      activation: 'relu',
      name: 's_h1',
      kernelInitializer: tfl.initializers.glorotUniform({ seed }),
    }),
  );
  model.add(
    tfl.layers.dense({ units: 8, activation: 'relu', name: 's_h2', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }),
  );
  model.add(tfl.layers.dense({ units: 3, name: 's_logits', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 2 }) }));
  return model;
}

/** A minimal hint plugin: MSE between `student @ W` and the teacher feature (W trainable). */
function hint(student: string, teacher: string) {
  return definePlugin<{ w: tf.Variable }>({
    name: 'hint',
    needsTeacher: true,
    taps: { student: [student], teacher: [teacher] },
    setup: (ctx) => ({
      w: tf.tidy(() =>
        tf.variable(tf.randomUniform([ctx.studentShapes[student]![1]!, ctx.teacherShapes[teacher]![1]!], -0.3, 0.3, 'float32', 5)),
      ),
    }),
    variables: (s) => [s.w],
    loss: (out, ctx) =>
      tf.mean(
        tf.squaredDifference(tf.matMul(out.student.features[student] as tf.Tensor2D, ctx.state.w), out.teacher!.features[teacher]!),
      ) as tf.Scalar,
    dispose: (s) => s.w.dispose(),
  });
}

const snapshot = (vars: readonly tf.Variable[]) => vars.map((v) => Array.from(v.dataSync()));
const maxChange = (before: number[][], vars: readonly tf.Variable[]) =>
  Math.max(...vars.map((v, i) => Math.max(...Array.from(v.dataSync(), (x, j) => Math.abs(x - before[i]![j]!)))));
const layerVars = (model: tfl.LayersModel, name: string) => model.getLayer(name).weights.map((w) => w.read() as tf.Variable);

describe('Distiller trainable filter', () => {
  it('takes a DataSource like tensors (the same bits)', async () => {
    const data = toyData(24, 6, 3, 11);
    const results: number[][][] = [];
    for (const input of [data, tensorSource(data)]) {
      const student = deepStudent(4);
      const teacher = mlp(6, 8, 3, 5);
      const optimizers = [tf.train.sgd(0.1), tf.train.sgd(0.05)];
      await fitStages(
        {
          student,
          teacher,
          stages: [
            { name: 'ce', plugins: [hardLabel()], epochs: 1, optimizer: optimizers[0]!, fit: { batchSize: 8 } },
            {
              name: 'kd',
              plugins: [hardLabel(), softTargets({ temperature: 2 })],
              epochs: 1,
              optimizer: optimizers[1]!,
              fit: { batchSize: 8 },
            },
          ],
        },
        input,
      );
      results.push(student.getWeights().map((w) => Array.from(w.dataSync())));
      for (const o of optimizers) o.dispose();
      student.dispose();
      teacher.dispose();
    }
    expect(results[1]).toEqual(results[0]);
    disposeData(data);
  });

  it('updates only the accepted variables; the rest change by exactly 0', async () => {
    const data = toyData(64, 6, 3, 1);
    const student = deepStudent(10);
    const frozen = [...layerVars(student, 's_h1'), ...layerVars(student, 's_logits')];
    const trained = layerVars(student, 's_h2');
    const before = snapshot(frozen);
    const beforeTrained = snapshot(trained);
    const distiller = new Distiller({ student, optimizer: tf.train.sgd(0.1), trainable: trainStudentLayers(student, ['s_h2']) }).use(
      hardLabel(),
    );
    const leaked = await leakedTensors(() => distiller.fit(data, { epochs: 2, batchSize: 16 }));
    expect(leaked).toBe(0);
    expect(maxChange(before, frozen)).toBe(0);
    expect(maxChange(beforeTrained, trained)).toBeGreaterThan(1e-4);
    disposeData(data);
  });

  it('rejects a filter that leaves nothing to train and a non-function', async () => {
    const data = toyData(16, 6, 3, 1);
    const distiller = new Distiller({ student: deepStudent(1), optimizer: tf.train.sgd(0.1), trainable: () => false }).use(hardLabel());
    await expect(distiller.fit(data, { epochs: 1 })).rejects.toThrow(/rejects all 6 variables/);
    expect(() => new Distiller({ student: deepStudent(2), optimizer: tf.train.sgd(0.1), trainable: 3 as never })).toThrow(
      DistillationError,
    );
    disposeData(data);
  });
});

describe('layersUpTo / trainStudentUpTo', () => {
  it('follows the graph of a functional model (branches not feeding the layer are excluded)', () => {
    const input = tfl.input({ shape: [4] });
    const a = tfl.layers.dense({ units: 3, name: 'a' }).apply(input) as tfl.SymbolicTensor;
    const b = tfl.layers.dense({ units: 3, name: 'b' }).apply(input) as tfl.SymbolicTensor;
    const c = tfl.layers.dense({ units: 3, name: 'c' }).apply(a) as tfl.SymbolicTensor;
    const sum = tfl.layers.add({ name: 'sum' }).apply([b, c]) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: sum, name: 'branches' });
    expect(layersUpTo(model, 'c').filter((n) => n !== model.layers[0]!.name)).toEqual(['a', 'c']);
    expect(layersUpTo(model, 'sum').length).toBe(5);
    expect(() => layersUpTo(model, 'nope')).toThrow(/No layer named "nope".*Available layers/);
    const filter = trainStudentUpTo(model, 'c');
    const outside = tf.variable(tf.zeros([1]));
    expect(model.getLayer('a').weights.every((w) => filter(w.read() as tf.Variable))).toBe(true);
    expect(model.getLayer('b').weights.some((w) => filter(w.read() as tf.Variable))).toBe(false);
    expect(filter(outside)).toBe(true); // plugin variables stay trainable
    outside.dispose();
  });
});

describe('fitStages', () => {
  it('two stages: hints train only the student up to the guided layer + regressor, then KD trains all', async () => {
    const data = toyData(96, 6, 3, 2);
    const teacher = mlp(6, 12, 3, 30, 'teacher');
    const student = deepStudent(40);
    const upTo = [...layerVars(student, 's_h1')];
    const after = [...layerVars(student, 's_h2'), ...layerVars(student, 's_logits')];
    const before = { upTo: snapshot(upTo), after: snapshot(after) };
    const optimizers = [tf.train.sgd(0.05), tf.train.sgd(0.05)];
    const seen: string[] = [];
    let results: Awaited<ReturnType<typeof fitStages>> = [];
    const leaked = await leakedTensors(async () => {
      results = await fitStages(
        {
          student,
          teacher,
          seed: 3,
          stages: [
            {
              name: 'hints',
              plugins: [hint('s_h1', 'teacher_hidden')],
              epochs: 2,
              optimizer: optimizers[0]!,
              trainable: trainStudentUpTo(student, 's_h1'),
              fit: { batchSize: 32 },
            },
            {
              name: 'kd',
              plugins: [hardLabel(), softTargets({ temperature: 4 })],
              epochs: 1,
              optimizer: optimizers[1]!,
              fit: { batchSize: 32 },
            },
          ],
        },
        data,
        {
          onStageStart: ({ stage, distiller }) => {
            seen.push(`start ${stage.name}: ${distiller.describe()}`);
          },
          onStageEnd: ({ stage, index }) => {
            seen.push(`end ${stage.name}`);
            if (index === 0) {
              // Stage 1 over: the guided part changed, everything after the guided layer did not.
              expect(maxChange(before.upTo, upTo)).toBeGreaterThan(1e-4);
              expect(maxChange(before.after, after)).toBe(0);
            }
          },
        },
      );
    });
    expect(leaked).toBe(0); // regressors disposed with their stage, SGD keeps no slots
    expect(seen).toEqual(['start hints: Loss = 1*hint', 'end hints', 'start kd: Loss = 1*ce + 1*kd(T=4)', 'end kd']);
    expect(results.map((r) => [r.name, r.history.epochs.length])).toEqual([
      ['hints', 2],
      ['kd', 1],
    ]);
    expect(Object.keys(results[0]!.history.epochs[0]!.terms)).toEqual(['hint']);
    expect(Object.keys(results[1]!.history.epochs[0]!.terms)).toEqual(['ce', 'kd']);
    expect(maxChange(before.after, after)).toBeGreaterThan(1e-4);
    optimizers.forEach((o) => o.dispose());
    disposeData(data);
  });

  it('checks the stage list before training and names the failing stage', async () => {
    const data = toyData(16, 6, 3, 1);
    const student = deepStudent(5);
    const sgd = tf.train.sgd(0.1);
    await expect(fitStages({ student, stages: [] }, data)).rejects.toThrow(/option "stages" must be a list of >= 1 items/);
    const kd = { name: 'kd', plugins: [hardLabel()], epochs: 1, optimizer: sgd };
    await expect(fitStages({ student, stages: [kd, kd] }, data)).rejects.toThrow(/two stages are named "kd"/);
    await expect(fitStages({ student, stages: [{ ...kd, plugins: [] }] }, data)).rejects.toThrow(
      /option "stages\[0\].plugins" must be a list of >= 1 items/,
    );
    await expect(fitStages({ student, stages: [{ ...kd, epochs: -1 }] }, data)).rejects.toThrow(/option "stages\[0\].epochs" must be >= 0/);
    await expect(fitStages({ student, stages: [{ ...kd, plugins: [softTargets()] }] }, data)).rejects.toThrow(
      /Stage "kd": Plugin "kd" needs a teacher/,
    );
    expect(() => trainStudentLayers(student, ['s_h1', 'missing'])).toThrow(/No layer named "missing"/);
    sgd.dispose();
    disposeData(data);
  });
});
