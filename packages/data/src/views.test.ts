import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Distiller, type RandomAccessSource, SeededRandom, sgd, softTargets, type TeacherLike, tensorSource } from '@kd/core';
import { precomputeTeacher, storedTeacher } from '@kd/teacher-store/node';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import { leakedTensors } from '../test/helpers';
import { augment, jitter } from './augment';
import { augmentedViews, viewId } from './views';

/** A small seeded conv net for [6, 6, 1] images. */
function cnn(shape: [number, number, number], classes: number, seed: number): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(
    tfl.layers.conv2d({
      inputShape: shape,
      filters: 4,
      kernelSize: 3,
      activation: 'relu',
      kernelInitializer: tfl.initializers.glorotUniform({ seed }),
    }),
  );
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: classes, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }));
  return m;
}

const dir = mkdtempSync(join(tmpdir(), 'kd-views-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** 12 grey 6x6 images with distinct pixels, labels k % 3, as a tensor source. */
function images() {
  const x = tf.tensor4d(
    Float32Array.from({ length: 12 * 36 }, (_, i) => ((i * 37) % 101) / 100),
    [12, 6, 6, 1],
  );
  const y = tf.tensor1d(
    Array.from({ length: 12 }, (_, k) => k % 3),
    'int32',
  );
  return { data: { x, y }, source: tensorSource({ x, y }, 'twelve images'), dispose: () => tf.dispose([x, y]) };
}

const all = (n: number) => Int32Array.from({ length: n }, (_, i) => i);

describe('augmentedViews: V fixed augmented views of every example', () => {
  it('position v*N + i is view v of example i: its own id and label, the same pixels at every read and in any batch', async () => {
    const { source, dispose } = images();
    const views = augmentedViews(source, { views: 3, seed: 5, jitter: { pixels: 2 }, flip: true });
    expect(views.size).toBe(36);
    expect(views.description).toBe('3 augmented view(s) (flip+jitter, seed 5) of twelve images');
    expect(Array.from(views.labels!.subarray(12, 15))).toEqual([0, 1, 2]);
    const whole = await views.read(all(36));
    expect(whole.ids.slice(0, 2)).toEqual([viewId(0, 0), viewId(1, 0)]);
    expect(whole.ids[13]).toBe('1@1');
    // One by one, in reverse: the same bytes (a view does not depend on the batch).
    for (const p of [35, 20, 13, 0]) {
      const one = await views.read(Int32Array.of(p));
      expect(Array.from(one.x)).toEqual(Array.from(whole.x.subarray(p * 36, (p + 1) * 36)));
      expect(one.ids).toEqual([whole.ids[p]]);
    }
    // The views of one example differ from each other.
    const viewOf = (v: number, i: number) => Array.from(whole.x.subarray((v * 12 + i) * 36, (v * 12 + i + 1) * 36));
    const distinct = new Set(Array.from({ length: 12 }, (_, i) => [0, 1, 2].map((v) => viewOf(v, i).join()).join('|')));
    expect([...distinct].filter((s) => new Set(s.split('|')).size > 1).length).toBeGreaterThan(6);
    dispose();
  });

  it('a view is the augmentation drawn from SeededRandom.keyed(seed, "view", v, i), computed independently', async () => {
    const { data, source, dispose } = images();
    const views = augmentedViews(source, { views: 2, seed: 9, jitter: { pixels: 1 } });
    const got = await views.read(Int32Array.of(12 + 7));
    const expected = tf.tidy(() => jitter(tf.slice(data.x, [7], [1]), { pixels: 1 }, SeededRandom.keyed(9, 'view', 1, 7)).dataSync());
    expect(Array.from(got.x)).toEqual(Array.from(expected));
    dispose();
  });

  it('refuses front-to-back sources, no augmentation, a crop to another size and unknown options, before reading', async () => {
    const { source, dispose } = images();
    const sequential = { kind: 'kd-source', size: 2, exampleShape: [6, 6, 1], stream: () => [] } as never;
    expect(() => augmentedViews(sequential, { views: 2, flip: true })).toThrow(
      expect.objectContaining({ code: 'views-need-random-access' }),
    );
    expect(() => augmentedViews(source, { views: 2 })).toThrow(expect.objectContaining({ code: 'no-augmentation' }));
    expect(() => augmentedViews(source, { views: 2, crop: { padding: 1, size: [4, 4] } })).toThrow(/"crop.size" \[4,4\] must be/);
    expect(() => augmentedViews(source, { views: 0, flip: true })).toThrow(expect.objectContaining({ code: 'bad-option' }));
    expect(() => augmentedViews(source, { views: 2, flip: true, seeds: 1 } as never)).toThrow(
      expect.objectContaining({ code: 'unknown-option' }),
    );
    dispose();
  });

  it('fingerprints from the base source and the view settings', async () => {
    const { source, dispose } = images();
    const a = await augmentedViews(source, { views: 2, seed: 1, flip: true }).fingerprint!();
    expect(await augmentedViews(source, { views: 2, seed: 1, flip: true }).fingerprint!()).toBe(a);
    expect(await augmentedViews(source, { views: 2, seed: 2, flip: true }).fingerprint!()).not.toBe(a);
    expect(await augmentedViews(source, { views: 3, seed: 1, flip: true }).fingerprint!()).not.toBe(a);
    const bare: RandomAccessSource = { ...source, fingerprint: undefined };
    expect(augmentedViews(bare, { views: 2, flip: true }).fingerprint).toBeUndefined();
    dispose();
  });

  it('a teacher stored per view distils the same bits as the live teacher on the views; the augment plugin is refused with it', async () => {
    const { source, dispose } = images();
    const teacher = cnn([6, 6, 1], 3, 11);
    const options = { views: 2, seed: 4, jitter: { pixels: 1 }, flip: true } as const;
    const store = join(dir, 'per-view');
    await precomputeTeacher(teacher, augmentedViews(source, options), store, { shardSize: 8, batchSize: 8 });
    const run = async (t: TeacherLike) => {
      const student = cnn([6, 6, 1], 3, 3);
      const optimizer = sgd({ learningRate: 0.05 });
      const d = new Distiller({ student, teacher: t, optimizer, seed: 2, teacherCache: 'off' }).use(softTargets({ temperature: 2 }));
      await d.fit(augmentedViews(source, options), { epochs: 2, batchSize: 8 });
      const weights = student.getWeights().map((w) => Array.from(w.dataSync()));
      d.dispose();
      optimizer.dispose();
      student.dispose();
      return weights;
    };
    const stored = await storedTeacher(store, { teacher, source: augmentedViews(source, options) });
    const leaks = await leakedTensors(async () => {
      expect(await run(stored)).toEqual(await run(teacher));
    });
    expect(leaks).toBe(0);
    // A store of other views is another source: refused by name.
    await expect(storedTeacher(store, { source: augmentedViews(source, { ...options, seed: 5 }) })).rejects.toMatchObject({
      code: 'store-source-mismatch',
    });
    // Augmenting every step instead cannot use the stored views.
    const student = cnn([6, 6, 1], 3, 3);
    const optimizer = sgd({ learningRate: 0.05 });
    const d = new Distiller({ student, teacher: stored, optimizer }).use(augment({ flip: true }), softTargets({ temperature: 2 }));
    await expect(d.fit(augmentedViews(source, options), { epochs: 1, batchSize: 8 })).rejects.toMatchObject({
      code: 'precomputed-teacher-transformed',
      message: expect.stringContaining('augmentedViews'),
    });
    d.dispose();
    optimizer.dispose();
    student.dispose();
    teacher.dispose();
    dispose();
  });
});
