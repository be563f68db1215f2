import { type Batch, SeededRandom, type StepContext } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { leakedTensors, maxAbsDiff } from '../test/helpers';
import { bitEvalPreprocess, bitPreprocess, mixup, preprocessEvalBatch, preprocessTrainBatch, sampleBeta } from './augment';

function context<S>(state: S, seed: number): StepContext<S> {
  return { state, epoch: 0, step: 0, random: new SeededRandom(seed), keep: (t) => t };
}

function batchOf(n: number): Batch {
  return {
    x: tf.tensor4d(
      Float32Array.from({ length: n * 4 }, (_, i) => i),
      [n, 2, 2, 1],
    ),
    y: tf.tensor1d(
      Int32Array.from({ length: n }, (_, i) => i % 3),
      'int32',
    ),
    index: tf.tensor1d(
      Int32Array.from({ length: n }, (_, i) => i),
      'int32',
    ),
  };
}

describe('sampleBeta', () => {
  it('Beta(a, a) has mean 1/2 and variance 1/(4(2a+1)); seeded', () => {
    for (const a of [0.1, 1, 5]) {
      const random = new SeededRandom(11);
      const xs = Array.from({ length: 20_000 }, () => sampleBeta(a, a, random));
      const mean = xs.reduce((s, v) => s + v, 0) / xs.length;
      const variance = xs.reduce((s, v) => s + (v - mean) ** 2, 0) / xs.length;
      expect(mean).toBeCloseTo(0.5, 1);
      expect(Math.abs(variance - 1 / (4 * (2 * a + 1)))).toBeLessThan(0.01);
      expect(xs.every((v) => v >= 0 && v <= 1)).toBe(true);
    }
    expect(sampleBeta(0.1, 0.1, new SeededRandom(3))).toBe(sampleBeta(0.1, 0.1, new SeededRandom(3)));
  });
});

describe('mixup plugin', () => {
  it('mixes x, teacherX and one-hot labels with one lambda and one permutation', async () => {
    const plugin = mixup({ alpha: 0.4 });
    const state = plugin.setup!({ numClasses: 3 } as never) as { numClasses: number };
    const batch = { ...batchOf(6), teacherX: tf.mul(batchOf(6).x, 10) };
    const leaked = await leakedTensors(async () => {
      tf.engine().startScope();
      const out = await plugin.transformBatch!(batch, context(state, 5));
      const y = out.targets!.arraySync();
      const x = out.x.dataSync();
      const tx = out.teacherX!.dataSync();
      expect(
        maxAbsDiff(
          Array.from(tx),
          Array.from(x, (v) => v * 10),
        ),
      ).toBeLessThan(1e-3);
      for (const row of y) expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
      // recover lambda from row 0 and check x against it
      const again = await plugin.transformBatch!(batch, context(state, 5));
      expect(Array.from(again.x.dataSync())).toEqual(Array.from(x));
      const other = await plugin.transformBatch!(batch, context(state, 6));
      expect(Array.from(other.x.dataSync())).not.toEqual(Array.from(x));
      tf.engine().endScope();
    });
    expect(leaked).toBe(0);
    const off = await mixup({ alpha: 0 }).transformBatch!(batch, context({ numClasses: 3 }, 1));
    expect(off).toBe(batch);
    tf.dispose([batch.x, batch.y, batch.index, batch.teacherX]);
  });
});

describe('BiT preprocessing', () => {
  it('train: resize, random crop, flip, [-1, 1]; seeded; teacher gets the same view', async () => {
    const x = tf.randomUniform([4, 8, 8, 1], 0, 1, 'float32', 2);
    const leaked = await leakedTensors(async () => {
      const a = preprocessTrainBatch(x, { resize: 10, crop: 6 }, new SeededRandom(1));
      const b = preprocessTrainBatch(x, { resize: 10, crop: 6 }, new SeededRandom(1));
      expect(a.shape).toEqual([4, 6, 6, 1]);
      expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
      const [lo, hi] = [tf.min(a), tf.max(a)];
      expect(lo.dataSync()[0]).toBeGreaterThanOrEqual(-1);
      expect(hi.dataSync()[0]).toBeLessThanOrEqual(1);
      // no resize and crop == size, no flip: only the scaling
      const same = preprocessTrainBatch(x, { resize: 8, crop: 8, flip: false }, new SeededRandom(1));
      const expected = tf.tidy(() => tf.sub(tf.mul(x, 2), 1));
      expect(maxAbsDiff(same.dataSync(), expected.dataSync())).toBeLessThan(1e-6);
      const evalX = preprocessEvalBatch(x, { resize: 10, crop: 8, inputRange: [0, 255] });
      const scaled = tf.tidy(() => tf.sub(tf.mul(x, 2 / 255), 1));
      expect(maxAbsDiff(evalX.dataSync(), scaled.dataSync())).toBeLessThan(1e-6);
      tf.dispose([a, b, lo, hi, same, expected, evalX, scaled]);
      tf.engine().startScope();
      const plugin = bitPreprocess({ resize: 10, crop: 6 });
      const base = batchOf(4);
      const out = await plugin.transformBatch!({ ...base, x, teacherX: x }, context(undefined, 9));
      expect(Array.from(out.teacherX!.dataSync())).toEqual(Array.from(out.x.dataSync()));
      tf.engine().endScope();
      tf.dispose([base.x, base.y, base.index]);
    });
    expect(leaked).toBe(0);
    const data = { x, y: tf.tensor1d([0, 1, 2, 0], 'int32') };
    const evalData = bitEvalPreprocess(data, { resize: 10, crop: 6, batchSize: 3 });
    expect(evalData.x.shape).toEqual([4, 6, 6, 1]);
    tf.dispose([x, data.y, evalData.x, evalData.y]);
    expect(() => bitPreprocess({ resize: 4, crop: 6 })).toThrow(/crop <= resize/);
  });
});
