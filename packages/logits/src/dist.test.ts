import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { leakedTensors } from '../test/helpers';
import { distLoss } from './dist';

const value = (t: tf.Scalar): number => t.dataSync()[0]!;
const logits = (batch: number, classes: number, seed: number, scale = 3) =>
  tf.mul(tf.randomNormal([batch, classes], 0, 1, 'float32', seed), scale) as tf.Tensor2D;

describe('distLoss', () => {
  it('is 0 (up to the 1e-8 eps) when the student predicts what the teacher does', async () => {
    expect(
      await leakedTensors(() =>
        tf.tidy(() => {
          const t = logits(6, 10, 1);
          expect(Math.abs(value(distLoss(t, t, { temperature: 4 })))).toBeLessThan(1e-4);
        }),
      ),
    ).toBe(0);
  });

  it('is symmetric in student and teacher (Pearson correlation is)', () => {
    tf.tidy(() => {
      const [s, t] = [logits(5, 7, 2), logits(5, 7, 3)];
      const options = { beta: 2, gamma: 0.5, temperature: 2 };
      expect(value(distLoss(s, t, options))).toBeCloseTo(value(distLoss(t, s, options)), 5);
    });
  });

  it('is T^2 (beta inter + gamma intra), each relation in [0, 2]', () => {
    tf.tidy(() => {
      const [s, t] = [logits(8, 10, 4), logits(8, 10, 5)];
      const inter = value(distLoss(s, t, { beta: 1, gamma: 0, temperature: 1 }));
      const intra = value(distLoss(s, t, { beta: 0, gamma: 1, temperature: 1 }));
      for (const relation of [inter, intra]) {
        expect(relation).toBeGreaterThan(0);
        expect(relation).toBeLessThan(2);
      }
      expect(value(distLoss(s, t, { beta: 3, gamma: 0.25, temperature: 1 }))).toBeCloseTo(3 * inter + 0.25 * intra, 4);
      // The T^2 factor: at T = 2 the probabilities change, so compare with the parts at T = 2.
      const inter2 = value(distLoss(s, t, { beta: 1, gamma: 0, temperature: 2 }));
      const intra2 = value(distLoss(s, t, { beta: 0, gamma: 1, temperature: 2 }));
      expect(value(distLoss(s, t, { temperature: 2 }))).toBeCloseTo(inter2 + intra2, 4);
    });
  });

  it('is 2 T^2 per relation for a perfectly anti-correlated pair of two classes', () => {
    tf.tidy(() => {
      // Two examples, two classes: the student's probabilities are the teacher's mirrored.
      const t = tf.tensor2d([
        [2, 0],
        [0, 1],
      ]);
      const s = tf.tensor2d([
        [0, 2],
        [1, 0],
      ]);
      expect(value(distLoss(s, t, { beta: 1, gamma: 0, temperature: 3 }))).toBeCloseTo(2 * 9, 3);
    });
  });

  it('has a finite gradient for a batch of one (the intra term is the constant gamma T^2)', () => {
    tf.tidy(() => {
      const [s, t] = [logits(1, 6, 6), logits(1, 6, 7)];
      const intraOnly = (x: tf.Tensor) => distLoss(x as tf.Tensor2D, t, { beta: 0, gamma: 1, temperature: 2 });
      expect(value(intraOnly(s))).toBeCloseTo(4, 5);
      const g = tf.grad(intraOnly)(s).dataSync();
      expect(Array.from(g)).toEqual(Array.from({ length: 6 }, () => 0));
      const full = tf
        .grad((x: tf.Tensor) => distLoss(x as tf.Tensor2D, t, { temperature: 2 }))(s)
        .dataSync();
      const interOnly = tf
        .grad((x: tf.Tensor) => distLoss(x as tf.Tensor2D, t, { gamma: 0, temperature: 2 }))(s)
        .dataSync();
      expect(Array.from(full).every(Number.isFinite)).toBe(true);
      expect(Math.max(...Array.from(full, Math.abs))).toBeGreaterThan(1e-6);
      expect(Array.from(full)).toEqual(Array.from(interOnly));
    });
  });
});
