import { type Checkpoint, type CheckpointStore, Distiller, fitStages, hardLabel, type Stage } from '@kd/core';
import { expectRefused } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { disposeData, leakedTensors, mapNet, maxChange, snapshot, tinyRun, toyData } from '../test/helpers';
import { type FactorTransferState, factorTransfer, factorTransferLoss, Paraphraser, paraphraserTraining, Translator } from './ft';

/** A checkpoint store in memory that keeps a copy of every save. */
function memoryStore(initial?: Checkpoint): CheckpointStore & { saves: Checkpoint[] } {
  const saves: Checkpoint[] = [];
  let last = initial;
  return {
    saves,
    save: async (checkpoint) => {
      last = structuredClone(checkpoint);
      saves.push(last);
    },
    load: async () => last,
  };
}

const studentWeights = (model: tfl.LayersModel) => model.weights.map((w) => Float32Array.from(w.read().dataSync()));
const maxDifference = (a: readonly Float32Array[], b: readonly Float32Array[]) =>
  Math.max(...a.map((x, i) => Math.max(0, ...x.map((v, j) => Math.abs(v - b[i]![j]!)))));

describe('factorTransferLoss', () => {
  it('is 0 for factors equal up to a positive scale; refuses bad options and shapes before any work', async () => {
    const f = tf.randomNormal([2, 2, 2, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const scaled = tf.mul(f, 3) as tf.Tensor4D;
    const other = tf.zeros([2, 2, 2, 2]) as tf.Tensor4D;
    const odd = tf.zeros([2, 3, 3, 3]) as tf.Tensor4D;
    const one = tf.zeros([1, 2, 2, 3]) as tf.Tensor4D;
    expect(tf.tidy(() => factorTransferLoss(scaled, f).dataSync()[0]!)).toBeLessThan(1e-6);
    expect(tf.tidy(() => factorTransferLoss(scaled, f, { factor: 'flattened' }).dataSync()[0]!)).toBeLessThan(1e-6);
    const deadFinite = tf.tidy(() =>
      tf
        .grad((z: tf.Tensor) => factorTransferLoss(z as tf.Tensor4D, f))(tf.zeros([2, 2, 2, 3]))
        .dataSync()
        .every(Number.isFinite),
    );
    expect(deadFinite).toBe(true); // an all-zero factor: no NaN, as PyTorch
    await expectRefused(() => factorTransferLoss(f, other, { factor: 'flattened' }), 'feature-shape-mismatch', 'same channel count');
    await expectRefused(() => factorTransferLoss(f, f, { factor: 'vec' as never }), 'bad-option', 'option "factor"');
    await expectRefused(() => factorTransferLoss(f, f, { p: 2 } as never), 'unknown-option', 'unknown option "p"');
    await expectRefused(() => factorTransferLoss(f, odd), 'unsupported-size-relation', '3/2');
    await expectRefused(() => factorTransferLoss(f, one), 'batch-size-mismatch', '(2 vs 1)');
    tf.dispose([f, scaled, other, odd, one]);
  });
});

describe('Paraphraser', () => {
  it('builds from the teacher shape (factor floor(rate C)), refuses another channel count, an empty factor and use before build', async () => {
    const p = new Paraphraser({ rate: 0.5 });
    const x = tf.zeros([1, 2, 2, 6]) as tf.Tensor4D;
    await expectRefused(() => p.encode(x), 'untrained-paraphraser', 'not built yet');
    p.build([null, 2, 2, 6], 3);
    expect(p.factorChannels).toBe(3);
    expect(p.variables.length).toBe(12);
    await expectRefused(() => p.build([null, 2, 2, 4]), 'feature-shape-mismatch', 'built for 6 teacher channels');
    const y = tf.tidy(() => p.reconstruct(x));
    expect(y.shape).toEqual([1, 2, 2, 6]);
    y.dispose();
    await expectRefused(() => new Paraphraser({ rate: 0.2 }).build([null, 2, 2, 3]), 'bad-option', 'leaves no factor channel');
    p.dispose();
    x.dispose();
    expect(p.built).toBe(false);
    expect(() => new Translator([null, 2, 2, 3], 0)).toThrow(/factorChannels must be a positive integer/);
  });
});

describe('FT through fitStages: paraphraser init stage, then ce + 200 * ft', () => {
  const setup = () => {
    const data = toyData(16, [6, 6, 1], 2, 51);
    const teacher = mapNet(6, [{ filters: 3 }, { filters: 4 }], 2, 101, 'ftt'); // ftt_relu2 [6, 6, 4]
    const newStudent = (seed: number) => mapNet(6, [{ filters: 2 }, { filters: 3, strides: 2 }], 2, seed, 'fts'); // fts_relu2 [3, 3, 3]
    const stages = (paraphraser: Paraphraser): Stage[] => [
      {
        name: 'paraphrase',
        plugins: [paraphraserTraining({ teacher: 'ftt_relu2', paraphraser })],
        epochs: 3,
        optimizer: tf.train.sgd(0.1),
        trainable: paraphraser.trainableFilter(),
        fit: { batchSize: 8 },
      },
      {
        name: 'transfer',
        plugins: [hardLabel(), factorTransfer({ student: 'fts_relu2', teacher: 'ftt_relu2', paraphraser })],
        epochs: 2,
        optimizer: tf.train.sgd(0.02),
        fit: { batchSize: 8 },
      },
    ];
    return { data, teacher, newStudent, stages };
  };

  it("stage 2 uses (frozen) the weights stage 1 trained; checkpoints at and after the boundary resume bit-exactly with the paraphraser's weights", async () => {
    const { data, teacher, newStudent, stages } = setup();
    const paraphraser = new Paraphraser();
    const student = newStudent(111);
    const studentStart = studentWeights(student);
    const store = memoryStore();
    const seen: Record<string, number> = {};
    let trained: Float32Array[] = [];
    const run = stages(paraphraser);
    const leaked = await leakedTensors(() =>
      fitStages({ student, teacher, stages: run, checkpoint: store, seed: 4 }, data, {
        onStageEnd: ({ index, history, distiller }) => {
          if (index === 0) {
            trained = snapshot(paraphraser.variables);
            seen['reconstructionFirst'] = history.epochs[0]!.terms['paraphraser']!;
            seen['reconstructionLast'] = history.epochs.at(-1)!.terms['paraphraser']!;
            seen['studentChangeStage1'] = maxDifference(studentStart, studentWeights(student));
          } else {
            const state = (distiller as unknown as { slots: { state: FactorTransferState }[] }).slots[1]!.state;
            seen['sameObject'] = state.paraphraser === paraphraser ? 1 : 0;
            seen['paraphraserChangeStage2'] = maxChange(trained, state.paraphraser.variables);
            seen['ftFirst'] = history.epochs[0]!.terms['ft']!;
            seen['ftLast'] = history.epochs.at(-1)!.terms['ft']!;
          }
        },
      }),
    );
    // Only the paraphraser (6 convs: 12 variables, the caller's to dispose) outlives the stages.
    expect(paraphraser.variables.length).toBe(12);
    expect(leaked).toBe(12);
    expect(seen['reconstructionLast']!).toBeLessThan(seen['reconstructionFirst']!);
    expect(seen['studentChangeStage1']).toBe(0); // the init stage trains only the paraphraser
    expect(seen['sameObject']).toBe(1);
    expect(seen['paraphraserChangeStage2']).toBe(0); // frozen in stage 2, exactly what stage 1 left
    expect(Number.isFinite(seen['ftLast'])).toBe(true);
    const finalWeights = studentWeights(student);
    run.forEach((s) => s.optimizer.dispose());

    // Resume from the checkpoint at the boundary (stage 1 finished) and from inside stage 2, in
    // "fresh processes": a new paraphraser and a new student.
    const boundary = store.saves.filter((c) => c.stage?.index === 0).at(-1)!;
    const inside = store.saves.find((c) => c.stage?.index === 1)!;
    expect(boundary.epoch).toBe(3);
    expect(inside.epoch).toBe(1);
    for (const saved of [boundary, inside]) {
      const fresh = new Paraphraser();
      expect(fresh.restore(saved)).toBe(true);
      expect(maxChange(trained, fresh.variables)).toBe(0); // bit-exact
      const resumedStudent = newStudent(222);
      const resumedRun = stages(fresh);
      await fitStages(
        { student: resumedStudent, teacher, stages: resumedRun, checkpoint: memoryStore(saved), resume: true, seed: 4 },
        data,
      );
      expect(maxDifference(finalWeights, studentWeights(resumedStudent))).toBe(0);
      expect(maxChange(trained, fresh.variables)).toBe(0);
      resumedRun.forEach((s) => s.optimizer.dispose());
      resumedStudent.dispose();
      fresh.dispose();
    }
    expect(new Paraphraser({ name: 'other' }).restore(boundary)).toBe(false);
    paraphraser.dispose();
    [student, teacher].forEach((m) => m.dispose());
    disposeData(data);
  });

  it('factorTransfer tiny run: finite, decreasing, translator trained, checkpoint round trip, translator disposed', async () => {
    const { data, teacher, newStudent } = setup();
    const student = newStudent(444);
    const paraphraser = new Paraphraser();
    paraphraser.build([null, 6, 6, 4], 9);
    const make = () => factorTransfer({ student: 'fts_relu2', teacher: 'ftt_relu2', paraphraser, weight: 1 });
    const before = snapshot(paraphraser.variables);
    const result = await tinyRun({ plugin: make(), fresh: make, student, teacher, data, term: 'ft', learningRate: 0.2, epochs: 6 });
    expect(result.leaked).toBe(0);
    expect(result.terms.every(Number.isFinite)).toBe(true);
    expect(result.terms.at(-1)!).toBeLessThan(result.terms[0]!);
    expect(result.variableChange).toBeGreaterThan(1e-4);
    expect(result.roundTrip).toBe(0);
    expect(result.leftAfterDispose).toBe(0);
    expect(maxChange(before, paraphraser.variables)).toBe(0); // frozen
    paraphraser.dispose();
    [student, teacher].forEach((m) => m.dispose());
    disposeData(data);
  });

  it('factorTransfer refuses, before the first step, a paraphraser no stage has trained', async () => {
    const { data, teacher, newStudent } = setup();
    const student = newStudent(333);
    const optimizer = tf.train.sgd(0.1);
    const distiller = new Distiller({ student, teacher, optimizer }).use(
      factorTransfer({ student: 'fts_relu2', teacher: 'ftt_relu2', paraphraser: new Paraphraser() }),
    );
    await expectRefused(
      () => distiller.fit(data, { epochs: 1, batchSize: 8 }),
      'untrained-paraphraser',
      'Plugin "ft" (student "fts_relu2" -> teacher "ftt_relu2"): paraphraser "paraphraser" was never trained',
    );
    distiller.dispose();
    optimizer.dispose();
    [student, teacher].forEach((m) => m.dispose());
    disposeData(data);
  });
});
