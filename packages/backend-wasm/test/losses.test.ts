import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { counts } from './helpers';

/** @kd/core's plain-op forms of the losses (see its FUSED_LOSS_KERNELS contract), differentiated by tfjs. */
const plain = {
  soft: (z: tf.Tensor, logP: tf.Tensor, T: number, form: string) => {
    const logQ = tf.logSoftmax(tf.div(z, T));
    const p = tf.exp(logP);
    const perExample = form === 'kl' ? tf.mul(p, tf.sub(logP, logQ)) : tf.neg(tf.mul(p, logQ));
    return tf.mul(tf.sum(perExample), (T * T) / z.shape[0]!) as tf.Scalar;
  },
  hard: (z: tf.Tensor, y: tf.Tensor) => tf.div(tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(z)))), z.shape[0]!) as tf.Scalar,
};

/** max |a - b| / max(|b|, 1) over all entries. */
const relative = (a: tf.Tensor, b: tf.Tensor) =>
  tf.tidy(() => tf.max(tf.div(tf.abs(tf.sub(a, b)), tf.maximum(tf.abs(b), 1))).dataSync()[0]!);

const run = (name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, number | string> = {}) =>
  tf.engine().runKernel(name, inputs, attrs) as tf.Tensor;

describe('fused losses on wasm (KdSoftTargetLoss, KdHardLabelLoss and their gradients)', () => {
  tf.setBackend('wasm');
  const z = tf.randomNormal([16, 10], 0, 3, 'float32', 1);
  const v = tf.randomNormal([16, 10], 0, 3, 'float32', 2);
  const dy = tf.scalar(0.37);

  for (const form of ['kl', 'cross-entropy']) {
    for (const T of [1, 4, 20]) {
      for (const normalised of [true, false]) {
        it(`KdSoftTargetLoss ${form}, T = ${T}, ${normalised ? 'log-probabilities' : 'unnormalised log-weights'}: value and logits gradient equal the plain ops to 1e-6 relative, no leaks, same bits twice`, () => {
          const logP = tf.tidy(() => (normalised ? tf.logSoftmax(tf.div(v, T)) : tf.mul(v, 0.3)));
          const before = counts();
          const value = run('KdSoftTargetLoss', { logits: z, logP }, { temperature: T, form });
          const grad = run('KdSoftTargetLossGrad', { logits: z, logP, dy }, { temperature: T });
          const again = run('KdSoftTargetLossGrad', { logits: z, logP, dy }, { temperature: T });
          expect(counts().tensors).toBe(before.tensors + 3);
          const plainValue = plain.soft(z, logP, T, form);
          const plainGrad = tf.grad((a: tf.Tensor) => plain.soft(a, logP, T, form))(z, dy);
          expect(value.shape).toEqual([]);
          expect(relative(value, plainValue)).toBeLessThan(1e-6);
          expect(relative(grad, plainGrad)).toBeLessThan(1e-6);
          expect(Array.from(again.dataSync())).toEqual(Array.from(grad.dataSync()));
          tf.dispose([logP, value, grad, again, plainValue, plainGrad]);
        });
      }
    }
  }

  it('KdHardLabelLoss with int32 labels (one out of range on each side: an all-zero target row): value and gradient equal the plain ops with one-hot rows', () => {
    const labels = tf.tensor1d([3, 0, 9, -1, 10, 5, 5, 2, 1, 7, 8, 6, 4, 3, 2, 1], 'int32');
    const target = tf.oneHot(labels, 10);
    const before = counts();
    const value = run('KdHardLabelLoss', { logits: z, labels });
    const grad = run('KdHardLabelLossGrad', { logits: z, labels, dy });
    expect(counts().tensors).toBe(before.tensors + 2);
    const plainValue = plain.hard(z, target);
    const plainGrad = tf.grad((a: tf.Tensor) => plain.hard(a, target))(z, dy);
    expect(relative(value, plainValue)).toBeLessThan(1e-6);
    expect(relative(grad, plainGrad)).toBeLessThan(1e-6);
    // The out-of-range rows contribute nothing: their gradient row is 0.
    expect(Array.from(grad.dataSync().slice(30, 40))).toEqual(Array(10).fill(0));
    expect(Array.from(grad.dataSync().slice(40, 50))).toEqual(Array(10).fill(0));
    tf.dispose([labels, target, value, grad, plainValue, plainGrad]);
  });

  it('KdHardLabelLoss with float32 targets (rows not summing to 1): value and gradient equal the plain ops', () => {
    const targets = tf.tidy(() => tf.mul(tf.softmax(v), 0.8));
    const value = run('KdHardLabelLoss', { logits: z, labels: targets });
    const grad = run('KdHardLabelLossGrad', { logits: z, labels: targets, dy });
    const plainValue = plain.hard(z, targets);
    const plainGrad = tf.grad((a: tf.Tensor) => plain.hard(a, targets))(z, dy);
    expect(relative(value, plainValue)).toBeLessThan(1e-6);
    expect(relative(grad, plainGrad)).toBeLessThan(1e-6);
    tf.dispose([targets, value, grad, plainValue, plainGrad]);
  });

  for (const T of [1, 4]) {
    it(`KdLogSoftmax at T = ${T} equals tf.logSoftmax(x / T) to 1e-6 relative, deterministically`, () => {
      const value = run('KdLogSoftmax', { logits: z }, { temperature: T });
      const again = run('KdLogSoftmax', { logits: z }, { temperature: T });
      const plainValue = tf.logSoftmax(tf.div(z, T));
      expect(value.shape).toEqual([16, 10]);
      expect(relative(value, plainValue)).toBeLessThan(1e-6);
      expect(Array.from(again.dataSync())).toEqual(Array.from(value.dataSync()));
      tf.dispose([value, again, plainValue]);
    });
  }
});
