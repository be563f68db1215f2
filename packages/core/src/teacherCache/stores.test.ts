import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { disposeData, mlp, toyData } from '../../test/helpers';
import type { LabeledData } from '../batch';
import type { TeacherCacheMode } from '../distiller';
import { Distiller } from '../distiller';
import { fileTeacherCacheStore } from '../io/fileTeacherCacheStore';
import { type DistillationPlugin, definePlugin } from '../plugin';
import { hardLabel } from '../plugins/hardLabel';
import { softTargets } from '../plugins/softTargets';
import type { TeacherLike } from '../teacher';
import { cachedTeacher } from './cachedTeacher';
import { memoryTeacherCacheStore, type TeacherCacheStore } from './stores';

/** A loss on the teacher's tapped hidden layer, so stored records also hold features. */
const hint: DistillationPlugin<void> = definePlugin<void>({
  name: 'hint',
  needsTeacher: true,
  taps: { student: ['student_hidden'], teacher: ['teacher_hidden'] },
  loss: ({ student, teacher }) =>
    tf.mean(
      tf.square(
        tf.sub(tf.slice(student.features.student_hidden!, [0, 0], [-1, 4]), tf.slice(teacher!.features.teacher_hidden!, [0, 0], [-1, 4])),
      ),
    ) as tf.Scalar,
});

/** Trains a fresh student (same seed every time) against `teacher`; returns its weights and cache stats. */
async function train(teacher: TeacherLike, data: LabeledData, teacherCache: TeacherCacheMode | TeacherCacheStore, withHint = true) {
  const student = mlp(8, 12, 3, 20, 'student');
  const d = new Distiller({ student, teacher, optimizer: tf.train.adam(0.01), seed: 3, teacherCache })
    .use(hardLabel({ weight: 0.5 }))
    .use(softTargets({ temperature: 4, weight: 0.5 }));
  if (withHint) d.use(hint);
  await d.fit(data, { epochs: 2, batchSize: 16 });
  const weights = student.getWeights().map((w) => Array.from(w.dataSync()));
  const stats = d.teacherCacheStats();
  d.dispose();
  d.optimizer.dispose();
  student.dispose();
  return { weights, stats };
}

describe('teacher-output stores (teacherCache: store)', () => {
  it('a second Distiller restores every output from a shared memory store: same bits, no teacher work', async () => {
    const data = toyData(48, 8, 3, 5);
    const teacher = mlp(8, 16, 3, 10, 'teacher');
    const store = memoryTeacherCacheStore();
    const before = tf.memory().numTensors;
    const reference = await train(teacher, data, 'off');
    const first = await train(teacher, data, store);
    expect(first.stats).toMatchObject({ misses: 48, restored: 0, saved: 1 });
    expect(store.keys()).toHaveLength(1);
    const second = await train(teacher, data, store);
    expect(second.stats).toMatchObject({ misses: 0, restored: 48, saved: 0, hits: 96 });
    expect(second.weights).toEqual(reference.weights);
    expect(first.weights).toEqual(reference.weights);
    // Other taps are another key: recomputed and saved separately.
    const noHint = await train(teacher, data, store, false);
    expect(noHint.stats).toMatchObject({ misses: 48, restored: 0, saved: 1 });
    expect(store.keys()).toHaveLength(2);
    expect(tf.memory().numTensors).toBe(before);
    teacher.dispose();
    disposeData(data);
  });

  it('never restores outputs of changed weights or changed data (SHA-256 content keys)', async () => {
    const data = toyData(32, 8, 3, 5);
    const teacher = mlp(8, 16, 3, 10, 'teacher');
    const store = memoryTeacherCacheStore();
    const first = await train(teacher, data, store);
    expect(first.stats).toMatchObject({ misses: 32, saved: 1 });
    const [key] = store.keys();
    expect(key).toMatch(/^kd-teacher-outputs\/v2\/[0-9a-f]{64}$/);
    // Same values in new tensors: the same key, restored.
    const copy = { x: tf.clone(data.x), y: tf.clone(data.y) };
    expect((await train(teacher, copy, store)).stats).toMatchObject({ misses: 0, restored: 32 });
    expect(store.keys()).toHaveLength(1);
    // One input value changed: another key.
    const changed = tf.tidy(() => ({
      x: tf.add(data.x, tf.mul(tf.reshape(tf.oneHot(tf.tensor1d([5], 'int32'), 32 * 8), [32, 8]), 1e-3)),
      y: tf.clone(data.y),
    }));
    expect((await train(teacher, changed, store)).stats).toMatchObject({ misses: 32, restored: 0, saved: 1 });
    expect(store.keys()).toHaveLength(2);
    // One weight changed: another key; changed back: the first key again.
    const w = teacher.weights[0]!;
    const old = w.read().clone();
    w.write(tf.add(old, tf.scalar(1e-6)));
    expect((await train(teacher, data, store)).stats).toMatchObject({ misses: 32, restored: 0 });
    expect(store.keys()).toHaveLength(3);
    w.write(old);
    expect((await train(teacher, data, store)).stats).toMatchObject({ misses: 0, restored: 32 });
    old.dispose();
    teacher.dispose();
    disposeData(data);
    disposeData(copy);
    disposeData(changed);
  });

  it('a teacher without a fingerprint is refused with a store, and kept under the fingerprint its user gives', async () => {
    const data = toyData(32, 8, 3, 5);
    const fn = (x: tf.Tensor) => tf.tidy(() => tf.matMul(x, tf.ones([8, 3])));
    const store = memoryTeacherCacheStore();
    const student = mlp(8, 12, 3, 20, 'student');
    expect(() => new Distiller({ student, teacher: fn, optimizer: tf.train.sgd(0.1), teacherCache: store })).toThrow(
      expect.objectContaining({ code: 'no-fingerprint', message: expect.stringContaining('function teacher') }),
    );
    expect(() => cachedTeacher(fn, { store })).toThrow(/pass option "fingerprint"/);
    const given = await train(cachedTeacher(fn, { store, fingerprint: 'ones-v1' }), data, 'memory', false);
    expect(given.stats).toMatchObject({ misses: 32, saved: 1 });
    const again = await train(cachedTeacher(fn, { store, fingerprint: 'ones-v1' }), data, 'memory', false);
    expect(again.stats).toMatchObject({ misses: 0, restored: 32 });
    expect(again.weights).toEqual(given.weights);
    const other = await train(cachedTeacher(fn, { store, fingerprint: 'ones-v2' }), data, 'memory', false);
    expect(other.stats).toMatchObject({ misses: 32, restored: 0 });
    student.dispose();
    disposeData(data);
  });

  it('fileTeacherCacheStore: a later run (new store object) restores from disk; corrupt files give a clear error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kd-teacher-cache-'));
    const data = toyData(40, 8, 3, 6);
    const teacher = mlp(8, 16, 3, 11, 'teacher');
    const first = await train(teacher, data, fileTeacherCacheStore(dir));
    expect(first.stats).toMatchObject({ misses: 40, saved: 1 });
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^[0-9a-f]{32}\.kdtc$/);
    const second = await train(teacher, data, fileTeacherCacheStore(dir));
    expect(second.stats).toMatchObject({ misses: 0, restored: 40 });
    expect(second.weights).toEqual(first.weights);

    const path = join(dir, files[0]!);
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 4));
    await expect(train(teacher, data, fileTeacherCacheStore(dir))).rejects.toThrow(
      /teacher cache file .*kdtc: \d+ bytes, expected \d+ \(truncated or padded\); delete it to recompute/,
    );
    writeFileSync(path, 'not a cache');
    await expect(train(teacher, data, fileTeacherCacheStore(dir))).rejects.toThrow('not a kd teacher-output file');
    teacher.dispose();
    disposeData(data);
    rmSync(dir, { recursive: true, force: true });
  });

  it('rejects a teacherCache that is neither a mode nor a store', () => {
    const student = mlp(8, 12, 3, 20, 'student');
    expect(() => new Distiller({ student, teacher: student, optimizer: tf.train.sgd(0.1), teacherCache: {} as TeacherCacheStore })).toThrow(
      "Distiller: option \"teacherCache\" must be 'memory' or 'off' or a store with load() and save(), got an object",
    );
    student.dispose();
  });
});
