import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { kernelCounts } from '../../test/helpers';
import { hardLabelLoss } from './hardLabelLoss';
import { softTargetLoss } from './softTargetLoss';

/** The losses as plain ops, differentiated by tfjs' autodiff: the form the fused ops replace. */
const reference = {
  kl: (z: tf.Tensor2D, logP: tf.Tensor2D, T: number) =>
    tf.mul(tf.div(tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, tf.logSoftmax(tf.div(z, T))))), z.shape[0]), T * T) as tf.Scalar,
  'cross-entropy': (z: tf.Tensor2D, logP: tf.Tensor2D, T: number) =>
    tf.mul(tf.div(tf.neg(tf.sum(tf.mul(tf.exp(logP), tf.logSoftmax(tf.div(z, T))))), z.shape[0]), T * T) as tf.Scalar,
  hard: (z: tf.Tensor2D, y: tf.Tensor2D) => tf.div(tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(z)))), z.shape[0]) as tf.Scalar,
};

/** max |a - b| / max(1, |b|) over all entries. */
const relative = (a: tf.Tensor, b: tf.Tensor) =>
  tf.tidy(() => tf.max(tf.div(tf.abs(tf.sub(a, b)), tf.maximum(tf.abs(b), 1))).dataSync()[0]!);

/** How many kernels `fn` dispatches. */
const kernels = (fn: () => void) => Object.values(kernelCounts(fn)).reduce((a, b) => a + b, 0);

describe('fused losses: the custom-gradient forms equal the plain-op forms (values and gradients to 1e-6 relative)', () => {
  const z = tf.randomNormal([16, 10], 0, 3, 'float32', 1) as tf.Tensor2D;
  const v = tf.randomNormal([16, 10], 0, 3, 'float32', 2) as tf.Tensor2D;

  for (const form of ['kl', 'cross-entropy'] as const) {
    for (const T of [1, 4, 20]) {
      for (const normalised of [true, false]) {
        it(`softTargetLoss ${form}, T = ${T}, ${normalised ? 'log-probabilities' : 'unnormalised log-weights'}`, () => {
          const logP = tf.tidy(() => (normalised ? tf.logSoftmax(tf.div(v, T)) : tf.mul(v, 0.3)) as tf.Tensor2D);
          const fused = tf.grads((a: tf.Tensor, b: tf.Tensor) => softTargetLoss(a as tf.Tensor2D, b as tf.Tensor2D, T, form));
          const plain = tf.grads((a: tf.Tensor, b: tf.Tensor) => reference[form](a as tf.Tensor2D, b as tf.Tensor2D, T));
          const before = tf.memory().numTensors;
          const [fz, fp] = fused([z, logP]);
          const fv = softTargetLoss(z, logP, T, form);
          expect(tf.memory().numTensors).toBe(before + 3); // two gradients and the value: nothing else kept
          const [pz, pp] = plain([z, logP]);
          const pv = reference[form](z, logP, T);
          expect(relative(fv, pv)).toBeLessThan(1e-6);
          expect(relative(fz!, pz!)).toBeLessThan(1e-6);
          expect(relative(fp!, pp!)).toBeLessThan(1e-6);
          tf.dispose([logP, fz!, fp!, pz!, pp!, fv, pv]);
        });
      }
    }
  }

  for (const labels of ['one-hot', 'soft'] as const) {
    it(`hardLabelLoss with ${labels} labels`, () => {
      const y = tf.tidy(() =>
        labels === 'one-hot' ? tf.oneHot(tf.tensor1d([0, 3, 9, 1, 1, 2, 5, 7, 8, 4, 6, 0, 2, 3, 9, 9], 'int32'), 10) : tf.softmax(v),
      ) as tf.Tensor2D;
      const [fz, fy] = tf.grads((a: tf.Tensor, b: tf.Tensor) => hardLabelLoss(a as tf.Tensor2D, b as tf.Tensor2D))([z, y]);
      const [pz, py] = tf.grads((a: tf.Tensor, b: tf.Tensor) => reference.hard(a as tf.Tensor2D, b as tf.Tensor2D))([z, y]);
      expect(relative(hardLabelLoss(z, y), reference.hard(z, y))).toBeLessThan(1e-6);
      expect(relative(fz!, pz!)).toBeLessThan(1e-6);
      expect(relative(fy!, py!)).toBeLessThan(1e-6);
      tf.dispose([y, fz!, fy!, pz!, py!]);
    });
  }

  it('dispatch fewer kernels forward + backward than autodiff through the plain ops', () => {
    const logP = tf.logSoftmax(tf.div(v, 4)) as tf.Tensor2D;
    const y = tf.oneHot(
      tf.tensor1d(
        Array.from({ length: 16 }, (_, i) => i % 10),
        'int32',
      ),
      10,
    ) as tf.Tensor2D;
    const step = (soft: typeof softTargetLoss, hard: typeof hardLabelLoss) => () =>
      tf.tidy(() => {
        tf.grad((a: tf.Tensor) => tf.add(soft(a as tf.Tensor2D, logP, 4), hard(a as tf.Tensor2D, y)) as tf.Scalar)(z);
      });
    const fused = kernels(step(softTargetLoss, hardLabelLoss));
    const plain = kernels(
      step(
        (a, b, T) => reference.kl(a, b, T),
        (a, b) => reference.hard(a, b as tf.Tensor2D),
      ),
    );
    expect(fused).toBeLessThanOrEqual(plain - 15); // 60 vs 80 on cpu with tfjs-core 4.22
    tf.dispose([logP, y]);
  });
});
