import {
  type Batch,
  DistillationError,
  Distiller,
  ensembleTeacher,
  hardLabel,
  type LabeledData,
  SeededRandom,
  type SetupContext,
  type StepContext,
  softTargets,
} from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { disposeData, leakedTensors, mlp, toyData } from '../test/helpers';
import { CrdCritic } from './critic';
import { type CrdState, crd, crdEnsemble } from './plugin';

const N = 192;

function setupContext(dataSize: number, studentDim: number, teacherDim: number): SetupContext {
  return {
    dataSize,
    numClasses: 3,
    studentShapes: { s: [null, studentDim] },
    teacherShapes: { t: [null, teacherDim] },
    labels: Int32Array.from({ length: dataSize }, (_, i) => i % 3),
    random: new SeededRandom(1),
  };
}

function stepContext(state: CrdState): StepContext<CrdState> {
  return { state, epoch: 0, step: 0, random: new SeededRandom(2), keep: (t) => t };
}

describe('crd plugin in a Distiller', () => {
  it('KD + CRD in one Distiller: both terms train, Z is frozen, nothing leaks, dispose() frees the banks', async () => {
    const data = toyData(N, 8, 3, 3);
    const teacher = mlp(8, 24, 3, 10, 'teacher');
    const student = mlp(8, 12, 3, 20, 'student');
    const plugin = crd({ student: 'student_pool', teacher: 'teacher_pool', featureDim: 16, negatives: 64, weight: 0.8 });
    const distiller = new Distiller({ student, teacher, optimizer: tf.train.sgd(0.1), seed: 4 })
      .use(hardLabel({ weight: 1 }))
      .use(softTargets({ temperature: 4, weight: 0.9 }))
      .use(plugin);
    expect(distiller.describe()).toBe('Loss = 1*ce + 0.9*kd(T=4) + 0.8*crd');

    const base = tf.memory();
    let history: Awaited<ReturnType<Distiller['fit']>> | undefined;
    const leaked = await leakedTensors(async () => {
      history = await distiller.fit(data, { epochs: 4, batchSize: 32 });
    });
    // Heads (2 x kernel + bias) and the two banks stay until dispose(), with the Distiller's scalar
    // of each weight other than 1 (0.9, 0.8); nothing else.
    expect(leaked).toBe(6 + 2);
    const epochs = history!.epochs;
    for (const e of epochs) {
      expect(Number.isFinite(e.terms['crd']!)).toBe(true);
      expect(Number.isFinite(e.terms['kd']!)).toBe(true);
    }
    expect(epochs.at(-1)!.terms['crd']!).toBeLessThan(epochs[0]!.terms['crd']!);
    expect(epochs.at(-1)!.terms['kd']!).toBeLessThan(epochs[0]!.terms['kd']!);

    const saved = plugin.state!((distiller as unknown as { slots: { state: CrdState }[] }).slots[2]!.state);
    const z = (saved.json as { z: { zStudent: number; zTeacher: number }[] }).z[0]!;
    expect(z.zStudent).toBeGreaterThan(0);
    expect(z.zTeacher).toBeGreaterThan(0);
    // A further epoch leaks nothing and keeps Z.
    expect(await leakedTensors(() => distiller.fit(data, { epochs: 5, batchSize: 32 }))).toBe(0);
    const again = plugin.state!((distiller as unknown as { slots: { state: CrdState }[] }).slots[2]!.state);
    expect((again.json as { z: unknown[] }).z[0]).toEqual(z);

    const bankBytes = 2 * N * 16 * 4;
    const before = tf.memory();
    distiller.dispose();
    expect(before.numBytes - tf.memory().numBytes).toBe(bankBytes + 4 * (12 * 16 + 16 + 24 * 16 + 16) + 2 * 4);
    expect(tf.memory().numTensors).toBe(base.numTensors);
    disposeData(data);
  });

  it('shared-negatives variant trains and is labelled as the variant', async () => {
    const data = toyData(N, 8, 3, 5);
    const distiller = new Distiller({ student: mlp(8, 12, 3, 1, 's2'), teacher: mlp(8, 24, 3, 2, 't2'), optimizer: tf.train.sgd(0.1) })
      .use(hardLabel())
      .use(crd({ student: 's2_pool', teacher: 't2_pool', featureDim: 16, negatives: 100, sampling: 'shared', weight: 0.8 }));
    expect(distiller.describe()).toBe('Loss = 1*ce + 0.8*crd(shared)');
    const h = await distiller.fit(data, { epochs: 2, batchSize: 32 });
    expect(Number.isFinite(h.epochs[1]!.terms['crd']!)).toBe(true);
    expect(await leakedTensors(() => distiller.fit(data, { epochs: 3, batchSize: 32 }))).toBe(0);
    distiller.dispose();
    disposeData(data);
  });

  it('CRD-EN: one critic per ensemble member, terms summed', async () => {
    const data = toyData(N, 8, 3, 6);
    const teacher = ensembleTeacher([mlp(8, 24, 3, 3, 'ta'), mlp(8, 20, 3, 4, 'tb')]);
    const plugin = crdEnsemble(
      [
        { student: 's3_pool', teacher: '0/ta_pool' },
        { student: 's3_pool', teacher: '1/tb_pool' },
      ],
      { featureDim: 8, negatives: 32, weight: 0.5, scoring: 'dense' },
    );
    const distiller = new Distiller({ student: mlp(8, 12, 3, 5, 's3'), teacher, optimizer: tf.train.sgd(0.05) })
      .use(hardLabel())
      .use(plugin);
    const base = tf.memory().numTensors;
    const h = await distiller.fit(data, { epochs: 1, batchSize: 48 });
    expect(Object.keys(h.epochs[0]!.terms).sort()).toEqual(['ce', 'crd-en/0', 'crd-en/1']);
    // 2 critics x (4 head variables + 2 banks), and the Distiller's scalar of the weight 0.5.
    expect(tf.memory().numTensors - base).toBe(12 + 1);
    distiller.dispose();
    expect(tf.memory().numTensors).toBe(base);
    disposeData(data);
  });

  it('cross-modal: the teacher sees teacherX, the student x, CRD links the pairs', async () => {
    const base = toyData(N, 8, 3, 7);
    const data: LabeledData = { x: base.x, y: base.y, teacherX: tf.tidy(() => tf.slice(tf.mul(base.x, -1), [0, 0], [N, 5])) };
    const distiller = new Distiller({ student: mlp(8, 12, 3, 6, 's4'), teacher: mlp(5, 24, 3, 7, 't4'), optimizer: tf.train.sgd(0.1) })
      .use(hardLabel())
      .use(crd({ student: 's4_pool', teacher: 't4_pool', featureDim: 8, negatives: 32, positive: 'relax' }));
    const h = await distiller.fit(data, { epochs: 2, batchSize: 64 });
    expect(Number.isFinite(h.epochs[1]!.terms['crd']!)).toBe(true);
    distiller.dispose();
    disposeData(data);
  });

  it('errors: K >= N and feature dims that disagree with the tapped layer', async () => {
    const data = toyData(64, 8, 3, 8);
    const tooMany = new Distiller({ student: mlp(8, 12, 3, 1, 's5'), teacher: mlp(8, 24, 3, 2, 't5'), optimizer: tf.train.sgd(0.1) }).use(
      crd({ student: 's5_pool', teacher: 't5_pool', negatives: 64 }),
    );
    await expect(tooMany.fit(data, { epochs: 1 })).rejects.toThrow(/K = 64 must be smaller than .* N = 64/);
    const wrongDim = new Distiller({ student: mlp(8, 12, 3, 1, 's6'), teacher: mlp(8, 24, 3, 2, 't6'), optimizer: tf.train.sgd(0.1) }).use(
      crd({ student: 's6_pool', teacher: 't6_pool', negatives: 16, teacherDim: 32 }),
    );
    await expect(wrongDim.fit(data, { epochs: 1 })).rejects.toThrow(/teacherDim = 32 disagrees with the tapped teacher layer "t6_pool"/);
    disposeData(data);
  });

  it('errors: missing indices, index >= N, features of the wrong size at run time', async () => {
    const plugin = crd({ student: 's', teacher: 't', featureDim: 4, negatives: 8 });
    const state = plugin.setup!(setupContext(20, 6, 5)) as CrdState;
    const x = tf.zeros([2, 6]);
    const y = tf.tensor1d([0, 1], 'int32');
    const noIndex = { x, y } as unknown as Batch;
    await expect(Promise.resolve().then(() => plugin.transformBatch!(noIndex, stepContext(state)))).rejects.toThrow(
      /needs the sample index of every example/,
    );
    const outOfRange = { x, y, index: tf.tensor1d([3, 20], 'int32') } as Batch;
    await expect(Promise.resolve().then(() => plugin.transformBatch!(outOfRange, stepContext(state)))).rejects.toThrow(
      /index 20 .* outside \[0, 20\)/,
    );
    const sample = state.sampler.sample([0, 1], new SeededRandom(0));
    expect(() => tf.tidy(() => state.critics[0]!.loss(tf.zeros([2, 7]), tf.zeros([2, 5]), sample).loss)).toThrow(DistillationError);
    expect(() => tf.tidy(() => state.critics[0]!.loss(tf.zeros([2, 7]), tf.zeros([2, 5]), sample).loss)).toThrow(/\[batch, 6\]/);
    plugin.dispose!(state);
    tf.dispose([x, y, outOfRange.index]);
  });

  it('state()/loadState() round-trips heads, banks and Z', () => {
    const a = crd({ student: 's', teacher: 't', featureDim: 4, negatives: 8 });
    const b = crd({ student: 's', teacher: 't', featureDim: 4, negatives: 8 });
    const sa = a.setup!(setupContext(20, 6, 5)) as CrdState;
    const sb = b.setup!({ ...setupContext(20, 6, 5), random: new SeededRandom(99) }) as CrdState;
    sa.critics[0]!.zStudent = 12.5;
    sa.critics[0]!.zTeacher = 7;
    const saved = a.state!(sa);
    const before = tf.memory().numTensors;
    b.loadState!(sb, saved);
    expect(tf.memory().numTensors).toBe(before);
    expect(sb.critics[0]!.zStudent).toBe(12.5);
    expect(sb.critics[0]!.zTeacher).toBe(7);
    for (const [k, t] of Object.entries(b.state!(sb).tensors)) {
      expect(t.arraySync(), k).toEqual(saved.tensors[k]!.arraySync());
    }
    a.dispose!(sa);
    b.dispose!(sb);
  });

  it('rejects bad options up front', () => {
    expect(() => crd({ student: '', teacher: 't' })).toThrow(/crd: option "student"/);
    expect(() => crd({ student: 's', teacher: 't', temperature: 0 })).toThrow(/temperature/);
    expect(() => crd({ student: 's', teacher: 't', sampling: 'nope' as 'shared' })).toThrow(/sampling/);
    expect(() => crdEnsemble([])).toThrow(/crdEnsemble: option "members"/);
  });
});

describe('CRD as a contrastive objective (property)', () => {
  it('loss is lower when student and teacher embeddings of the same example align than when shuffled', () => {
    const n = 128;
    const dim = 10;
    const random = new SeededRandom(11);
    for (let trial = 0; trial < 3; trial++) {
      const critic = new CrdCritic({ studentDim: dim, teacherDim: dim, dataSize: n, featureDim: 8, momentum: 0, seed: trial });
      // Same head on both sides, so aligned features give aligned embeddings.
      critic.teacherHead.setWeights(critic.studentHead.kernel, critic.studentHead.bias);
      const features = tf.randomNormal([n, dim], 0, 1, 'float32', 100 + trial) as tf.Tensor2D;
      const all = Int32Array.from({ length: n }, (_, i) => i);
      // Fill the banks with the aligned embeddings (momentum 0: rows = embeddings).
      tf.tidy(() => critic.update(all, critic.studentHead.apply(features), critic.teacherHead.apply(features)));
      const batch = Int32Array.from(random.permutation(n).subarray(0, 32));
      const sampler = critic.dataSize;
      expect(sampler).toBe(n);
      const contrast = new Int32Array(32 * 33);
      batch.forEach((id, b) => {
        contrast[b * 33] = id;
        let j = 1;
        for (const other of random.permutation(n)) {
          if (other === id) continue;
          contrast[b * 33 + j++] = other;
          if (j === 33) break;
        }
      });
      const sample = { kind: 'per-anchor' as const, index: batch, contrast, negatives: 32 };
      const aligned = tf.tidy(() => {
        const f = tf.gather(features, tf.tensor1d(batch, 'int32'));
        return critic.loss(f, f, sample).loss.dataSync()[0]!;
      });
      const shuffled = tf.tidy(() => {
        const f = tf.gather(features, tf.tensor1d(batch, 'int32'));
        const g = tf.gather(features, tf.tensor1d(Int32Array.from(random.permutation(n).subarray(0, 32)), 'int32'));
        return critic.loss(g, f, sample).loss.dataSync()[0]!;
      });
      expect(aligned).toBeLessThan(shuffled);
      features.dispose();
      critic.dispose();
    }
  });
});
