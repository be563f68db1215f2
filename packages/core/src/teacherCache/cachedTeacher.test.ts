import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, vi } from 'vitest';
import { disposeData, leakedTensors, mlp, toyData } from '../../test/helpers';
import type { LabeledData } from '../batch';
import { Distiller } from '../distiller';
import { type DistillationPlugin, definePlugin } from '../plugin';
import { hardLabel } from '../plugins/hardLabel';
import { softTargets } from '../plugins/softTargets';
import { ensembleTeacher, type Teacher } from '../teacher';
import { OutputTable } from './outputTable';

/** A loss on a tapped teacher feature, so the cache must also store features. */
function featureMatch(student: string, teacher: string): DistillationPlugin<void> {
  return definePlugin<void>({
    name: 'feat',
    needsTeacher: true,
    taps: { student: [student], teacher: [teacher] },
    loss(outputs) {
      const s = outputs.student.features[student]!;
      const t = outputs.teacher!.features[teacher]!;
      return tf.mean(tf.square(tf.sub(tf.slice(s, [0, 0], [-1, 4]), tf.slice(t, [0, 0], [-1, 4])))) as tf.Scalar;
    },
  });
}

async function trainOnce(cache: 'memory' | 'off', data: LabeledData, withFeatures: boolean) {
  const teacher = mlp(8, 16, 3, 10, 'teacher');
  const student = mlp(8, 12, 3, 20, 'student');
  const d = new Distiller({ student, teacher, optimizer: tf.train.adam(0.01), seed: 3, teacherCache: cache })
    .use(hardLabel({ weight: 0.5 }))
    .use(softTargets({ temperature: 4, weight: 0.5 }));
  if (withFeatures) d.use(featureMatch('student_hidden', 'teacher_hidden'));
  const history = await d.fit(data, { epochs: 3, batchSize: 16 });
  const weights = student.getWeights().map((w) => Array.from(w.dataSync()));
  const stats = d.teacherCacheStats();
  d.dispose();
  d.optimizer.dispose();
  teacher.dispose();
  student.dispose();
  return { history, weights, stats };
}

describe('teacher-output cache', () => {
  it('gives bitwise the same training as without a cache (cpu), logits and tapped features', async () => {
    const data = toyData(100, 8, 3, 5);
    for (const withFeatures of [false, true]) {
      const off = await trainOnce('off', data, withFeatures);
      // Once complete, the table is gathered by each batch's positions: no row lookup after epoch 1
      // (7 batches of 16; the first finds no table yet), 14 gathers in epochs 2 and 3.
      const rowsOf = vi.spyOn(OutputTable.prototype, 'rowsOf');
      const readPositions = vi.spyOn(OutputTable.prototype, 'readPositions');
      const on = await trainOnce('memory', data, withFeatures);
      expect(rowsOf).toHaveBeenCalledTimes(6);
      expect(readPositions).toHaveBeenCalledTimes(14);
      rowsOf.mockRestore();
      readPositions.mockRestore();
      expect(off.stats).toBeUndefined();
      expect(on.weights).toEqual(off.weights);
      expect(on.history.epochs.map((e) => e.terms)).toEqual(off.history.epochs.map((e) => e.terms));
      // 100 examples computed once, served twice.
      expect(on.stats).toMatchObject({ active: true, misses: 100, hits: 200, bypassed: 0, filled: 100, size: 100 });
    }
    disposeData(data);
  });

  it('calls the teacher once per example across epochs, and again after the data changes', async () => {
    const seen: number[] = [];
    // Column 0 of x holds the example's index, so the teacher records which examples it sees.
    const teacher = (x: tf.Tensor) => {
      if (x.shape[0]! > 1) seen.push(...Array.from(tf.tidy(() => tf.slice(x, [0, 0], [-1, 1])).dataSync()));
      return tf.tidy(() => tf.matMul(x, tf.ones([4, 3])));
    };
    const make = (offset: number): LabeledData =>
      tf.tidy(() => {
        const index = tf.reshape(tf.range(0, 40, 1, 'float32'), [40, 1]);
        return {
          x: tf.concat([index, tf.add(tf.randomNormal([40, 3], 0, 1, 'float32', 4), offset)], 1),
          y: tf.tensor1d(
            Array.from({ length: 40 }, (_, i) => i % 3),
            'int32',
          ),
        };
      });
    const data = make(0);
    const student = mlp(4, 8, 3, 7, 'student');
    const d = new Distiller({ student, teacher, optimizer: tf.train.sgd(0.01), seed: 1 }).use(softTargets({ temperature: 2 }));
    await d.fit(data, { epochs: 4, batchSize: 8 });
    expect(seen.length).toBe(40);
    expect(new Set(seen).size).toBe(40);
    expect(d.teacherCacheStats()).toMatchObject({ misses: 40, hits: 120, invalidations: 0 });

    // Same data, more epochs: still no teacher calls.
    await d.fit(data, { epochs: 6, batchSize: 8 });
    expect(seen.length).toBe(40);

    // New data (same shape, other content): the cache is invalidated and refilled once.
    const other = make(1);
    await d.fit(other, { epochs: 8, batchSize: 8 });
    expect(seen.length).toBe(80);
    expect(d.teacherCacheStats()).toMatchObject({ misses: 80, invalidations: 1 });

    // dispose() frees the cache; the next fit recomputes.
    d.dispose();
    expect(d.teacherCacheStats()).toMatchObject({ filled: 0, bytes: 0 });
    disposeData(data);
    disposeData(other);
    student.dispose();
  });

  it('never runs a teacher that no plugin reads (cache on and off)', async () => {
    for (const teacherCache of ['memory', 'off'] as const) {
      let calls = 0;
      const teacher = (x: tf.Tensor) => {
        if (x.shape[0]! > 1) calls++;
        return tf.tidy(() => tf.matMul(x, tf.ones([4, 3])));
      };
      const data = toyData(32, 4, 3, 5);
      const student = mlp(4, 8, 3, 7, 'student');
      const before = tf.memory().numTensors;
      const d = new Distiller({ student, teacher, optimizer: tf.train.sgd(0.01), seed: 1, teacherCache }).use(hardLabel());
      await d.fit(data, { epochs: 2, batchSize: 8 });
      expect(calls, teacherCache).toBe(0);
      expect(d.teacherCacheStats()?.misses ?? 0).toBe(0);
      d.dispose();
      d.optimizer.dispose();
      // The same teacher with a plugin that reads it: 4 batches per epoch, once with the cache.
      const kd = new Distiller({ student, teacher, optimizer: tf.train.sgd(0.01), seed: 1, teacherCache }).use(
        softTargets({ temperature: 2 }),
      );
      await kd.fit(data, { epochs: 3, batchSize: 8 });
      expect(calls, teacherCache).toBe(teacherCache === 'memory' ? 4 : 12);
      kd.dispose();
      kd.optimizer.dispose();
      expect(tf.memory().numTensors).toBe(before);
      disposeData(data);
      student.dispose();
    }
  });

  it('invalidates when a LayersModel teacher is retrained between fits', async () => {
    const data = toyData(32, 8, 3, 9);
    const teacher = mlp(8, 16, 3, 10, 'teacher');
    const student = mlp(8, 12, 3, 20, 'student');
    const d = new Distiller({ student, teacher, optimizer: tf.train.sgd(0.01) }).use(softTargets({ temperature: 4 }));
    await d.fit(data, { epochs: 2, batchSize: 16 });
    expect(d.teacherCacheStats()).toMatchObject({ misses: 32, hits: 32 });
    const t = new Distiller({ student: teacher, optimizer: tf.train.sgd(0.1) }).use(hardLabel());
    await t.fit(data, { epochs: 1, batchSize: 16 });
    await d.fit(data, { epochs: 3, batchSize: 16 });
    expect(d.teacherCacheStats()).toMatchObject({ misses: 64, hits: 32, invalidations: 1 });
    d.dispose();
    disposeData(data);
  });

  it('bypasses steps whose inputs a plugin transformed (augmentation)', async () => {
    const data = toyData(48, 8, 3, 2);
    const teacher = mlp(8, 16, 3, 10, 'teacher');
    const student = mlp(8, 12, 3, 20, 'student');
    const noise = definePlugin<void>({
      name: 'noise',
      transformBatch(batch, { random }) {
        return { ...batch, x: tf.add(batch.x, tf.randomNormal(batch.x.shape, 0, 0.1, 'float32', random.seed())) };
      },
    });
    const d = new Distiller({ student, teacher, optimizer: tf.train.sgd(0.01) }).use(noise).use(softTargets({ temperature: 4 }));
    await d.fit(data, { epochs: 2, batchSize: 16 });
    expect(d.teacherCacheStats()).toMatchObject({ hits: 0, misses: 0, bypassed: 96 });
    d.dispose();
    disposeData(data);
  });

  it('turns itself off for a teacher with its own logProbabilities (replaying logits would lose them)', async () => {
    const data = toyData(24, 6, 3, 4);
    const student = mlp(6, 8, 3, 1);
    const model = mlp(6, 8, 3, 2);
    let calls = 0;
    // A teacher whose distribution at T is uniform, whatever its logits: a cache of logits cannot replay it.
    const teacher: Teacher = {
      kind: 'kd-teacher',
      description: 'uniform at every temperature',
      tap: () => ({}),
      predict: (x) => {
        const logits = model.predict(x) as tf.Tensor2D;
        return {
          logits,
          features: {},
          logProbabilities: () => {
            calls++;
            return tf.fill(logits.shape, Math.log(1 / 3)) as tf.Tensor2D;
          },
        };
      },
    };
    const d = new Distiller({ student, teacher, optimizer: tf.train.sgd(0.1) }).use(softTargets({ temperature: 2 }));
    await d.fit(data, { epochs: 3, batchSize: 8 });
    expect(calls).toBe(9);
    expect(d.teacherCacheStats()).toMatchObject({ active: false, hits: 0, reason: expect.stringContaining('its own logProbabilities') });
    d.dispose();
    d.optimizer.dispose();
    student.dispose();
    model.dispose();
    disposeData(data);
  });

  it('caches ensemble members and leaks no tensors', async () => {
    const data = toyData(40, 8, 3, 11);
    const members = [mlp(8, 16, 3, 10, 'm0'), mlp(8, 16, 3, 12, 'm1')];
    const run = async (cache: 'memory' | 'off') => {
      const student = mlp(8, 12, 3, 20, 'student');
      const d = new Distiller({ student, teacher: ensembleTeacher(members), optimizer: tf.train.sgd(0.05), teacherCache: cache }).use(
        softTargets({ temperature: 4 }),
      );
      let weights: number[][] = [];
      const leaked = await leakedTensors(async () => {
        await d.fit(data, { epochs: 3, batchSize: 8 });
        d.dispose();
      });
      weights = student.getWeights().map((w) => Array.from(w.dataSync()));
      student.dispose();
      return { leaked, weights };
    };
    const off = await run('off');
    const on = await run('memory');
    expect(on.leaked).toBe(0);
    expect(on.weights).toEqual(off.weights);
    disposeData(data);
  });

  it('disables itself when the store would exceed teacherCacheMaxBytes, and rejects bad modes', async () => {
    const data = toyData(32, 8, 3, 9);
    const d = new Distiller({
      student: mlp(8, 12, 3, 20, 'student'),
      teacher: mlp(8, 16, 3, 10, 'teacher'),
      optimizer: tf.train.sgd(0.01),
      teacherCacheMaxBytes: 100,
    }).use(softTargets({ temperature: 4 }));
    await d.fit(data, { epochs: 2, batchSize: 16 });
    const stats = d.teacherCacheStats()!;
    expect(stats.active).toBe(false);
    expect(stats.reason).toMatch(/too large/);
    expect(stats.bypassed).toBe(64);
    expect(
      () =>
        new Distiller({
          student: mlp(8, 12, 3, 20),
          optimizer: tf.train.sgd(0.01),
          teacherCache: 'disk' as 'off',
        }),
    ).toThrow(/teacherCache/);
    d.dispose();
    disposeData(data);
  });
});
