import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { disposeData, mlp, toyData } from '../../test/helpers';
import type { LabeledData } from '../batch';
import { Distiller } from '../distiller';
import { definePlugin } from '../plugin';
import { hardLabel } from '../plugins/hardLabel';
import { softTargets } from '../plugins/softTargets';
import type { RandomAccessSource } from '../source';
import { type Teacher, type TeacherLike, toTeacher } from '../teacher';
import { cachedTeacher, isCachedTeacher } from './cachedTeacher';
import { memoryTeacherCacheStore } from './stores';

/** A random-access source over tensors' rows with string ids, and optionally a fingerprint. */
function rowSource(data: LabeledData, fingerprint?: string): RandomAccessSource {
  const x = data.x.dataSync() as Float32Array;
  const y = data.y.dataSync() as Int32Array;
  const width = data.x.shape[1]!;
  return {
    kind: 'kd-source',
    size: data.x.shape[0]!,
    exampleShape: [width],
    labels: Int32Array.from(y),
    description: 'rows',
    ...(fingerprint ? { fingerprint: async () => fingerprint } : {}),
    read(positions) {
      const out = new Float32Array(positions.length * width);
      positions.forEach((p, i) => out.set(x.subarray(p * width, (p + 1) * width), i * width));
      return { x: out, y: Int32Array.from(positions, (p) => y[p]!), ids: Array.from(positions, (p) => `ex-${p}`) };
    },
  };
}

/** Counts the examples a teacher computes for training steps (calls with ids; not the one-example probe). */
function counting(model: TeacherLike): Teacher & { computed: number } {
  const inner = toTeacher(model);
  const teacher = {
    ...inner,
    computed: 0,
    predict(x: tf.Tensor, batch?: Parameters<Teacher['predict']>[1]) {
      if (batch) teacher.computed += x.shape[0]!;
      return inner.predict(x, batch);
    },
  };
  return teacher;
}

async function train(teacher: TeacherLike, data: LabeledData | RandomAccessSource, options: { off?: boolean; augment?: boolean } = {}) {
  const student = mlp(8, 12, 3, 20, 'student');
  const d = new Distiller({ student, teacher, optimizer: tf.train.adam(0.01), seed: 3, ...(options.off ? { teacherCache: 'off' } : {}) })
    .use(hardLabel({ weight: 0.5 }))
    .use(softTargets({ temperature: 4, weight: 0.5 }));
  if (options.augment) d.use(definePlugin({ name: 'jitter', changesTeacherInput: true, transformBatch: (b) => b }));
  try {
    await d.fit(data, { epochs: 3, batchSize: 16 });
    return {
      weights: student.getWeights().map((w) => Array.from(w.dataSync())),
      stats: d.teacherCacheStats(),
      steps: d.optimizer.iterations,
    };
  } finally {
    d.dispose();
    d.optimizer.dispose();
    student.dispose();
  }
}

describe('cachedTeacher(teacher): the cache as a wrapper teacher', () => {
  it("keeps a DataSource's outputs by example id: each example computed once, same bits as the live teacher", async () => {
    const data = toyData(40, 8, 3, 5);
    const model = mlp(8, 16, 3, 10, 'teacher');
    const source = rowSource(data);
    const live = await train(model, source, { off: true });
    const teacher = counting(model);
    const cached = cachedTeacher(teacher);
    expect(isCachedTeacher(cached)).toBe(true);
    const before = tf.memory().numTensors;
    const run = await train(cached, source);
    expect(tf.memory().numTensors).toBe(before);
    expect(teacher.computed).toBe(40);
    expect(run.stats).toMatchObject({ active: true, misses: 40, hits: 80, filled: 40, size: 40 });
    expect(run.weights).toEqual(live.weights);
    // The default cache steps aside for a source (only the explicit wrapper keeps one).
    const implicit = await train(model, source);
    expect(implicit.stats).toMatchObject({ active: false, hits: 0, reason: expect.stringContaining('cachedTeacher()') });
    model.dispose();
    disposeData(data);
  });

  it('is refused before any step when a plugin declares changesTeacherInput; the default cache steps aside', async () => {
    const data = toyData(32, 8, 3, 5);
    const model = mlp(8, 16, 3, 10, 'teacher');
    const before = tf.memory().numTensors;
    await expect(train(cachedTeacher(model), data, { augment: true })).rejects.toMatchObject({
      code: 'cached-teacher-transformed',
      message: expect.stringContaining('[jitter]'),
    });
    expect(tf.memory().numTensors).toBe(before);
    const implicit = await train(model, data, { augment: true });
    expect(implicit.steps).toBe(6);
    expect(implicit.stats).toMatchObject({ active: false, hits: 0, reason: expect.stringContaining('changesTeacherInput') });
    model.dispose();
    disposeData(data);
  });

  it('with a store, a source needs a fingerprint; with one, a later teacher restores every output', async () => {
    const data = toyData(32, 8, 3, 5);
    const model = mlp(8, 16, 3, 10, 'teacher');
    const store = memoryTeacherCacheStore();
    const before = tf.memory().numTensors;
    await expect(train(cachedTeacher(model, { store }), rowSource(data))).rejects.toMatchObject({
      code: 'no-fingerprint',
      message: expect.stringContaining('rows'),
    });
    expect(tf.memory().numTensors).toBe(before);
    const first = await train(cachedTeacher(model, { store }), rowSource(data, 'rows-v1'));
    expect(first.stats).toMatchObject({ misses: 32, saved: 1 });
    const teacher = counting(model);
    const second = await train(cachedTeacher(teacher, { store }), rowSource(data, 'rows-v1'));
    expect(teacher.computed).toBe(0);
    expect(second.stats).toMatchObject({ misses: 0, restored: 32, hits: 96 });
    expect(second.weights).toEqual(first.weights);
    // Another fingerprint of the data is another key.
    const third = await train(cachedTeacher(model, { store }), rowSource(data, 'rows-v2'));
    expect(third.stats).toMatchObject({ misses: 32, restored: 0 });
    expect(store.keys()).toHaveLength(2);
    model.dispose();
    disposeData(data);
  });

  it('wraps nothing twice, refuses precomputed teachers and unknown options', () => {
    const model = mlp(8, 16, 3, 10, 'teacher');
    const student = mlp(8, 12, 3, 20, 'student');
    const cached = cachedTeacher(model);
    const d = new Distiller({ student, teacher: cached, optimizer: tf.train.sgd(0.1) });
    expect(d.teacher).toBe(cached);
    expect(d.teacherCacheStats()).toMatchObject({ active: true, hits: 0 });
    const stored: Teacher = { ...toTeacher(model), precomputed: true };
    expect(() => cachedTeacher(stored)).toThrow(expect.objectContaining({ code: 'bad-teacher' }));
    expect(() => cachedTeacher(model, { maxByte: 1 } as never)).toThrow(expect.objectContaining({ code: 'unknown-option' }));
    expect(() => cachedTeacher(model, { fingerprint: '' })).toThrow(expect.objectContaining({ code: 'bad-option' }));
    d.dispose();
    d.optimizer.dispose();
    student.dispose();
    model.dispose();
  });
});

describe('cachedTeacher outside and across fits', () => {
  it('serves nothing after a fit ends: evaluation on other data runs the wrapped teacher', async () => {
    const data = toyData(32, 8, 3, 1);
    const other = toyData(32, 8, 3, 99);
    const model = mlp(8, 16, 3, 10, 'teacher');
    const cached = cachedTeacher(model);
    await train(cached, data);
    const direct = tf.tidy(() => Array.from((model.predict(other.x) as tf.Tensor).dataSync()));
    const through = tf.tidy(() => Array.from(cached.predict(other.x, { ids: Array.from({ length: 32 }, (_, i) => i) }).logits.dataSync()));
    expect(through).toEqual(direct);
    model.dispose();
    disposeData(data);
    disposeData(other);
  });

  it('refuses a second fit that begins before the first has ended', async () => {
    const data = toyData(32, 8, 3, 1);
    const model = mlp(8, 16, 3, 10, 'teacher');
    const cached = cachedTeacher(model);
    const run = { source: { kind: 'kd-source', size: 32, exampleShape: [8], read: () => ({}) } as never, taps: [], inputChangers: [] };
    await cached.begin!(run);
    await expect(cached.begin!(run)).rejects.toMatchObject({
      code: 'teacher-cache',
      message: expect.stringContaining('already serving a fit'),
    });
    await cached.end!();
    await cached.begin!(run);
    await cached.end!();
    model.dispose();
    disposeData(data);
  });
});
