import { softTargetLossFromLogits } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { leakedTensors } from '../test/helpers';
import { dkdLoss } from './dkd';

const value = (t: tf.Scalar): number => t.dataSync()[0]!;
const logits = (batch: number, classes: number, seed: number, scale = 3) =>
  tf.mul(tf.randomNormal([batch, classes], 0, 1, 'float32', seed), scale) as tf.Tensor2D;

describe('dkdLoss', () => {
  it('is 0, with a zero gradient, when the student predicts what the teacher does', async () => {
    expect(
      await leakedTensors(() =>
        tf.tidy(() => {
          const t = logits(6, 10, 1);
          const y = tf.tensor1d([0, 3, 9, 2, 2, 5], 'int32');
          expect(Math.abs(value(dkdLoss(t, t, y)))).toBeLessThan(1e-5);
          const g = tf.grad((s: tf.Tensor) => dkdLoss(s as tf.Tensor2D, t, y))(t);
          expect(tf.max(tf.abs(g)).dataSync()[0]).toBeLessThan(1e-5);
        }),
      ),
    ).toBe(0);
  });

  it('is alpha * TCKD + beta * NCKD: linear in alpha and beta', () => {
    tf.tidy(() => {
      const [s, t] = [logits(5, 7, 2), logits(5, 7, 3)];
      const y = tf.tensor1d([1, 0, 6, 3, 3], 'int32');
      const tckd = value(dkdLoss(s, t, y, { alpha: 1, beta: 0, temperature: 2 }));
      const nckd = value(dkdLoss(s, t, y, { alpha: 0, beta: 1, temperature: 2 }));
      expect(tckd).toBeGreaterThan(0);
      expect(nckd).toBeGreaterThan(0);
      expect(value(dkdLoss(s, t, y, { alpha: 0.5, beta: 3, temperature: 2 }))).toBeCloseTo(0.5 * tckd + 3 * nckd, 4);
    });
  });

  it("decomposes Hinton's KD per example: KD = TCKD + (1 - p_target) NCKD (the paper's eq. 5)", () => {
    tf.tidy(() => {
      for (const [seed, label, temperature] of [
        [4, 2, 4],
        [5, 0, 1],
        [6, 7, 2.5],
      ] as const) {
        const [s, t] = [logits(1, 8, seed), logits(1, 8, seed + 100)];
        const y = tf.tensor1d([label], 'int32');
        const pTarget = tf.softmax(tf.div(t, temperature)).dataSync()[label]!;
        const tckd = value(dkdLoss(s, t, y, { alpha: 1, beta: 0, temperature }));
        const nckd = value(dkdLoss(s, t, y, { alpha: 0, beta: 1, temperature }));
        const kd = value(softTargetLossFromLogits(s, t, temperature));
        expect(Math.abs(tckd + (1 - pTarget) * nckd - kd)).toBeLessThan(1e-5 * Math.max(1, kd));
      }
    });
  });

  it('depends on the labels, and not on a constant added to a row of logits', () => {
    tf.tidy(() => {
      const [s, t] = [logits(4, 6, 7), logits(4, 6, 8)];
      const y = tf.tensor1d([0, 1, 2, 3], 'int32');
      const base = value(dkdLoss(s, t, y));
      expect(Math.abs(value(dkdLoss(s, t, tf.tensor1d([5, 1, 2, 3], 'int32'))) - base)).toBeGreaterThan(1e-3);
      const shift = tf.tensor2d([[10], [-3], [0], [7]]);
      const shifted = value(dkdLoss(tf.add(s, shift) as tf.Tensor2D, tf.sub(t, shift) as tf.Tensor2D, y));
      expect(Math.abs(shifted - base)).toBeLessThan(1e-4 * base);
    });
  });

  it('averages over the batch: a batch repeated twice has the same loss', () => {
    tf.tidy(() => {
      const [s, t] = [logits(3, 5, 9), logits(3, 5, 10)];
      const y = tf.tensor1d([4, 0, 2], 'int32');
      const twice = value(dkdLoss(tf.concat([s, s]), tf.concat([t, t]), tf.tensor1d([4, 0, 2, 4, 0, 2], 'int32')));
      expect(twice).toBeCloseTo(value(dkdLoss(s, t, y)), 4);
    });
  });
});
