import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Distiller,
  definePlugin,
  ensembleTeacher,
  hardLabel,
  type SequentialSource,
  type SourceBatch,
  sgd,
  softTargets,
  tensorSource,
} from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import { disposeData, expectRefused, mlp, toyData } from '../test/helpers';
import { modelFingerprint, precomputeTeacher, storedTeacher } from './node';

const root = mkdtempSync(join(tmpdir(), 'kd-teacher-store-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const fresh = () => join(root, `store-${dirs++}`);

/** KD + a hint on the teacher's hidden layer (read through taps) from `teacher`; returns the student's weights. */
async function distil(data: Parameters<Distiller['fit']>[0], teacher: ConstructorParameters<typeof Distiller>[0]['teacher']) {
  const student = mlp(6, 10, 3, 100, { name: 's' });
  const optimizer = sgd({ learningRate: 0.1, momentum: 0.9 });
  const hint = definePlugin<void>({
    name: 'hint',
    needsTeacher: true,
    taps: { teacher: ['t_hidden'] },
    loss: ({ teacher: t }) => tf.mean(tf.square(t!.features['t_hidden']!)) as tf.Scalar,
    weight: 1e-3,
  });
  const distiller = new Distiller({ student, teacher, optimizer, seed: 7, teacherCache: 'off' }).use(
    hardLabel({ weight: 0.5 }),
    softTargets({ temperature: 3 }),
    hint,
  );
  await distiller.fit(data, { epochs: 2, batchSize: 8 });
  const weights = student.getWeights().map((w) => Array.from(w.dataSync()));
  distiller.dispose();
  optimizer.dispose();
  student.dispose();
  return weights;
}

describe('precomputeTeacher + storedTeacher', () => {
  it('a Distiller trains with the stored teacher to the same bits as with the live one (float32), tensors and streams', async () => {
    const data = toyData(50, 6, 3, 3);
    const teacher = mlp(6, 12, 3, 200, { name: 't' });
    const before = tf.memory().numTensors;
    const dir = fresh();
    const manifest = await precomputeTeacher(teacher, data, dir, { taps: ['t_hidden'], shardSize: 16, batchSize: 8 });
    expect(manifest).toMatchObject({
      numClasses: 3,
      dtype: 'float32',
      idType: 'number',
      taps: { t_hidden: [null, 12] },
      source: { size: 50 },
    });
    expect(manifest.shards.map((s) => s.rows)).toEqual([16, 16, 16, 2]);
    expect(manifest.teacher.fingerprint).toBe(await modelFingerprint(teacher));
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    const stored = await storedTeacher(dir, { teacher });
    expect(stored.numClasses).toBe(3);
    const live = await distil(data, teacher);
    expect(await distil(data, stored)).toEqual(live);
    // A front-to-back source of the same rows precomputes the same shards.
    const rows = tensorSource(data);
    const stream: SequentialSource = {
      kind: 'kd-source',
      size: 50,
      exampleShape: [6],
      *stream() {
        for (let s = 0; s < 50; s += 7) yield rows.read(Int32Array.from({ length: Math.min(7, 50 - s) }, (_, i) => s + i)) as SourceBatch;
      },
    };
    const streamed = await precomputeTeacher(teacher, stream, fresh(), { taps: ['t_hidden'], shardSize: 16, batchSize: 8 });
    expect(streamed.shards.map((s) => s.sha256)).toEqual(manifest.shards.map((s) => s.sha256));
    expect(tf.memory().numTensors).toBe(before);
    teacher.dispose();
    disposeData(data);
  });

  it('float16 halves the logit bytes and stays within half precision of the live outputs', async () => {
    const data = toyData(40, 6, 3, 4);
    const teacher = mlp(6, 12, 3, 201, { name: 't' });
    const full = fresh();
    const a = await precomputeTeacher(teacher, data, full, { shardSize: 40, batchSize: 8 });
    const dir = fresh();
    const b = await precomputeTeacher(teacher, data, dir, { shardSize: 40, batchSize: 8, dtype: 'float16' });
    expect(b.dtype).toBe('float16');
    // 40 x 3 logits: 480 bytes as float32, 240 as float16 (the ids and Arrow framing are the same).
    const bytes = (d: string, m: typeof a) => readFileSync(join(d, m.shards[0]!.file)).length;
    expect(bytes(full, a) - bytes(dir, b)).toBeGreaterThanOrEqual(240);
    const stored = await storedTeacher(dir);
    const x = data.x;
    const ids = Array.from({ length: 40 }, (_, i) => i);
    const [live, half] = tf.tidy(() => [(teacher.predict(x) as tf.Tensor).dataSync(), stored.predict(x, { ids }).logits.dataSync()]);
    for (let i = 0; i < live.length; i++)
      expect(Math.abs(half[i]! - live[i]!)).toBeLessThanOrEqual(Math.abs(live[i]!) * 2 ** -11 + 2 ** -24);
    teacher.dispose();
    disposeData(data);
  });

  it('a killed run leaves whole shards only, and a re-run skips them (the teacher runs on the missing ones only)', async () => {
    const data = toyData(40, 6, 3, 5);
    const model = mlp(6, 12, 3, 202, { name: 't' });
    const dir = fresh();
    const fingerprint = await modelFingerprint(model);
    let calls = 0;
    let killAfter = 2;
    const counting = {
      kind: 'kd-teacher' as const,
      description: 'counting',
      tap: () => ({}),
      predict: (x: tf.Tensor) => {
        calls++;
        return { logits: model.predict(x) as tf.Tensor2D, features: {} };
      },
    };
    const options = {
      shardSize: 8,
      batchSize: 8,
      fingerprint,
      onShard: ({ index }: { index: number }) => {
        if (index + 1 === killAfter) throw new Error('killed');
      },
    };
    await expect(precomputeTeacher(counting, data, dir, options)).rejects.toThrow('killed');
    expect(readdirSync(dir).filter((f) => f.endsWith('.arrow'))).toHaveLength(2);
    expect(readdirSync(dir)).not.toContain('manifest.json');
    await expectRefused(() => storedTeacher(dir), 'store-not-found', 'precomputeTeacher has not finished');
    calls = 0;
    killAfter = 0;
    const manifest = await precomputeTeacher(counting, data, dir, options);
    expect(calls).toBe(1 + 3); // the class probe, then shards 2..4 only
    const reference = await precomputeTeacher(model, data, fresh(), { shardSize: 8, batchSize: 8 });
    expect(manifest.shards).toEqual(reference.shards);
    expect(manifest.source.idsSha256).toBe(reference.source.idsSha256);
    // A complete store is returned as it is.
    calls = 0;
    await precomputeTeacher(counting, data, dir, options);
    expect(calls).toBe(1);
    model.dispose();
    disposeData(data);
  });

  it('refuses bad stores and mismatches with specific errors', async () => {
    const data = toyData(24, 6, 3, 6);
    const teacher = mlp(6, 12, 3, 203, { name: 't' });
    const other = mlp(6, 12, 3, 204, { name: 't' });
    const dir = fresh();
    const manifest = await precomputeTeacher(teacher, data, dir, { shardSize: 8, batchSize: 8 });
    await expectRefused(() => storedTeacher(dir, { teacher: other }), 'store-fingerprint-mismatch', 'holds the outputs of teacher');
    await expectRefused(() => storedTeacher(join(root, 'nothing-here')), 'store-not-found', 'does not exist');
    await expectRefused(
      () => precomputeTeacher(other, data, dir, { shardSize: 8, batchSize: 8 }),
      'store-fingerprint-mismatch',
      'already holds a complete store of another run',
    );
    await expectRefused(
      () => precomputeTeacher((x: tf.Tensor) => tf.matMul(x, tf.ones([6, 3])), data, fresh()),
      'store-no-fingerprint',
      'pass option "fingerprint"',
    );
    await expectRefused(
      () => precomputeTeacher(teacher, data, fresh(), { shardSize: 10, batchSize: 4 }),
      'bad-option',
      'multiple of option "batchSize"',
    );
    await expectRefused(
      () => precomputeTeacher(teacher, data, fresh(), { shardsize: 8 } as never),
      'unknown-option',
      'did you mean "shardSize"',
    );
    // A truncated shard, a missing shard, a torn manifest.
    const shard = join(dir, manifest.shards[1]!.file);
    const bytes = readFileSync(shard);
    writeFileSync(shard, bytes.subarray(0, bytes.length - 10));
    await expectRefused(() => storedTeacher(dir), 'store-bad-shard', `shard ${shard} is not the file the manifest lists`);
    rmSync(shard);
    await expectRefused(() => storedTeacher(dir), 'store-bad-shard', 'is missing');
    writeFileSync(shard, bytes);
    writeFileSync(join(dir, 'manifest.json'), '{"format":"kd-teacher-store","version":9}');
    await expectRefused(() => storedTeacher(dir), 'store-bad-manifest', 'store format 9');
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
    const stored = await storedTeacher(dir);
    // Ids it does not hold, taps it did not record, a student of other classes, augmentation.
    expect(() => stored.predict(tf.zeros([1, 6]), { ids: [99] })).toThrow(expect.objectContaining({ code: 'store-missing-id' }));
    expect(() => stored.tap(['t_hidden'])).toThrow(expect.objectContaining({ code: 'store-unknown-tap' }));
    const student4 = mlp(6, 8, 4, 1);
    const optimizer = sgd({ learningRate: 0.1 });
    const d4 = new Distiller({ student: student4, teacher: stored, optimizer }).use(softTargets({ temperature: 2 }));
    const y4 = tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3], 'int32');
    const x8 = tf.zeros([8, 6]);
    await expectRefused(
      () => d4.fit({ x: x8, y: y4 as tf.Tensor1D }, { epochs: 1 }),
      'class-count-mismatch',
      'outputs 3 classes but the student 4',
    );
    const student = mlp(6, 8, 3, 1);
    const augmenting = definePlugin<void>({ name: 'jitter', changesTeacherInput: true, transformBatch: (b) => b });
    const d = new Distiller({ student, teacher: stored, optimizer }).use(augmenting, softTargets({ temperature: 2 }));
    await expectRefused(
      () => d.fit(data, { epochs: 1 }),
      'precomputed-teacher-transformed',
      "plugin(s) [jitter] change the teacher's input",
    );
    expect(optimizer.iterations).toBe(0);
    tf.dispose([x8, y4]);
    for (const m of [d4, d]) m.dispose();
    for (const m of [student4, student, teacher, other] as tfl.LayersModel[]) m.dispose();
    optimizer.dispose();
    disposeData(data);
  });

  it('reads a store written by a separate script that follows only the format spec (no kd import), and distils from it', async () => {
    const data = toyData(30, 6, 3, 8);
    const teacher = mlp(6, 12, 3, 205, { name: 't' });
    const logits = tf.tidy(() => (teacher.predict(data.x) as tf.Tensor2D).arraySync());
    const ids = Array.from({ length: 30 }, (_, i) => `row-${i}`);
    const dir = fresh();
    const rowsFile = join(root, `rows-${dirs}.json`);
    writeFileSync(rowsFile, JSON.stringify({ ids, logits, numClasses: 3, shardRows: 13 }));
    execFileSync(process.execPath, [fileURLToPath(new URL('../test/fixtures/foreignWriter.mjs', import.meta.url)), dir, rowsFile], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
    });
    const stored = await storedTeacher(dir);
    expect(stored.manifest.backend).toBe('pytorch');
    // The same rows under string ids: the live teacher on a source with those ids gives the same bits.
    const rows = tensorSource(data);
    const source = { ...rows, read: (p: Int32Array) => ({ ...(rows.read(p) as SourceBatch), ids: Array.from(p, (i) => `row-${i}`) }) };
    const student = async (t: ConstructorParameters<typeof Distiller>[0]['teacher']) => {
      const s = mlp(6, 10, 3, 100);
      const optimizer = sgd({ learningRate: 0.1 });
      const d = new Distiller({ student: s, teacher: t, optimizer, seed: 2, teacherCache: 'off' }).use(softTargets({ temperature: 2 }));
      await d.fit(source, { epochs: 2, batchSize: 8 });
      const w = s.getWeights().map((v) => Array.from(v.dataSync()));
      d.dispose();
      optimizer.dispose();
      s.dispose();
      return w;
    };
    expect(await student(stored)).toEqual(await student(teacher));
    teacher.dispose();
    disposeData(data);
  });

  it('modelFingerprint: the same architecture and weights built twice (other auto-generated names) match; other weights do not', async () => {
    const build = (seed: number) =>
      tfl.sequential({
        layers: [tfl.layers.dense({ inputShape: [4], units: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed }) })],
      });
    const [a, b, c] = [build(1), build(1), build(2)];
    expect(a.layers[0]!.name).not.toBe(b.layers[0]!.name);
    expect(await modelFingerprint(a)).toBe(await modelFingerprint(b));
    expect(await modelFingerprint(a)).not.toBe(await modelFingerprint(c));
    for (const m of [a, b, c]) m.dispose();
  });

  it('float16: values just below powers of two round up with their carry, tiny values to zero, out-of-range values are refused', async () => {
    const data = toyData(8, 6, 3, 9);
    const fingerprint = 'a'.repeat(64);
    const fixed = (row: number[]) => (x: tf.Tensor) => tf.tile(tf.tensor2d([row]), [x.shape[0]!, 1]);
    const dir = fresh();
    await precomputeTeacher(fixed([1.9999, 7.9995, 1e-8]), data, dir, { dtype: 'float16', shardSize: 8, batchSize: 8, fingerprint });
    const stored = await storedTeacher(dir);
    const values = tf.tidy(() => Array.from(stored.predict(tf.zeros([1, 6]), { ids: [3] }).logits.dataSync()));
    expect(values).toEqual([2, 8, 0]);
    await expectRefused(
      () => precomputeTeacher(fixed([70000, 0, 0]), data, fresh(), { dtype: 'float16', shardSize: 8, batchSize: 8, fingerprint }),
      'store-bad-value',
      '70000 cannot be stored as float16',
    );
    disposeData(data);
  });

  it('checks the source: another source is refused for a complete store and by storedTeacher({ source }); a resume on other data starts over', async () => {
    const a = toyData(24, 6, 3, 10);
    const b = toyData(24, 6, 3, 11);
    const teacher = mlp(6, 12, 3, 206, { name: 't' });
    const dir = fresh();
    await precomputeTeacher(teacher, a, dir, { shardSize: 8, batchSize: 8 });
    await expectRefused(
      () => precomputeTeacher(teacher, b, dir, { shardSize: 8, batchSize: 8 }),
      'store-fingerprint-mismatch',
      'contentSha256',
    );
    await expectRefused(() => storedTeacher(dir, { source: b }), 'store-source-mismatch', 'not on the source given: contentSha256');
    expect((await storedTeacher(dir, { source: a, teacher })).numClasses).toBe(3);
    // Killed on a, resumed on b: nothing of a is kept.
    const resumed = fresh();
    const kill = {
      shardSize: 8,
      batchSize: 8,
      onShard: ({ index }: { index: number }) => {
        if (index === 0) throw new Error('killed');
      },
    };
    await expect(precomputeTeacher(teacher, a, resumed, kill)).rejects.toThrow('killed');
    const manifest = await precomputeTeacher(teacher, b, resumed, { shardSize: 8, batchSize: 8 });
    const reference = await precomputeTeacher(teacher, b, fresh(), { shardSize: 8, batchSize: 8 });
    expect(manifest.shards).toEqual(reference.shards);
    teacher.dispose();
    disposeData(a);
    disposeData(b);
  });

  it('refuses repeated ids while precomputing, a stored member of an augmented ensemble, and an undeclared transform with a stored teacher', async () => {
    const data = toyData(16, 6, 3, 12);
    const teacher = mlp(6, 12, 3, 207, { name: 't' });
    const rows = tensorSource(data);
    const repeated = { ...rows, read: (p: Int32Array) => ({ ...(rows.read(p) as SourceBatch), ids: Array.from(p, (i) => i % 12) }) };
    await expectRefused(
      () => precomputeTeacher(teacher, repeated, fresh(), { shardSize: 8, batchSize: 8 }),
      'store-bad-shard',
      'yields example id 0 twice',
    );
    const dir = fresh();
    await precomputeTeacher(teacher, data, dir, { shardSize: 8, batchSize: 8 });
    const stored = await storedTeacher(dir);
    const student = mlp(6, 8, 3, 1);
    const optimizer = sgd({ learningRate: 0.1 });
    const declared = definePlugin<void>({ name: 'jitter', changesTeacherInput: true, transformBatch: (b) => b });
    const ensemble = new Distiller({ student, teacher: ensembleTeacher([stored, teacher]), optimizer }).use(
      declared,
      softTargets({ temperature: 2 }),
    );
    await expectRefused(() => ensemble.fit(data, { epochs: 1 }), 'precomputed-teacher-transformed', 'plugin(s) [jitter]');
    const sneaky = definePlugin<void>({ name: 'sneaky', transformBatch: (b) => ({ ...b, x: tf.add(b.x, 1) }) });
    const undeclared = new Distiller({ student, teacher: stored, optimizer }).use(sneaky, softTargets({ temperature: 2 }));
    await expectRefused(
      () => undeclared.fit(data, { epochs: 1, batchSize: 8 }),
      'precomputed-teacher-transformed',
      'A transform of [sneaky] changed',
    );
    expect(optimizer.iterations).toBe(0);
    // A stored teacher is not wrapped in the default cache: there is nothing to keep.
    expect(undeclared.teacher).toBe(stored);
    expect(undeclared.teacherCacheStats()).toBeUndefined();
    for (const d of [ensemble, undeclared]) d.dispose();
    for (const m of [student, teacher]) m.dispose();
    optimizer.dispose();
    disposeData(data);
  });

  it('modelFingerprint renames only name fields: a layer named like an activation does not collide', async () => {
    const build = (name: string, activation: 'relu' | 'linear') =>
      tfl.sequential({
        layers: [tfl.layers.dense({ inputShape: [2], units: 2, name, activation, kernelInitializer: tfl.initializers.ones() })],
      });
    const [a, b] = [build('relu', 'relu'), build('linear', 'linear')];
    expect(await modelFingerprint(a)).not.toBe(await modelFingerprint(b));
    for (const m of [a, b]) m.dispose();
  });
});
