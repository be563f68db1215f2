import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { nstLoss } from '../src/nst';
import golden from './fixtures/methods-golden.json';
import { finiteDifferenceRatio, type Nested, tensorOf, toleranceRatio } from './helpers';

/**
 * NST against test/fixtures/generate_methods.py (float64 PyTorch port of RepDistiller's
 * `NSTLoss`, its gradient checked by gradcheck): loss and student gradient within abs 1e-6 +
 * rel 1e-4 (toleranceRatio <= 1); the gradient also against float32 central differences.
 */
describe('nstLoss vs PyTorch (RepDistiller NSTLoss)', () => {
  for (const c of golden.nst) {
    it(`${c.name}: loss and gradient w.r.t. the student, no gradient to the teacher`, () => {
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        const s = tensorOf(c.student as Nested) as tf.Tensor4D;
        const t = tensorOf(c.teacher as Nested) as tf.Tensor4D;
        const loss = nstLoss(s, t).dataSync()[0]!;
        const [gs, gt] = tf.grads((a: tf.Tensor, b: tf.Tensor) => nstLoss(a as tf.Tensor4D, b as tf.Tensor4D))([s, t]);
        const ratios = { loss: toleranceRatio([loss], c.loss), grad: toleranceRatio(gs!.dataSync(), c.gradStudent) };
        console.log(`nst ${c.name}: worst ratio`, ratios);
        expect(ratios.loss).toBeLessThanOrEqual(1);
        expect(ratios.grad).toBeLessThanOrEqual(1);
        expect(tf.max(tf.abs(gt!)).dataSync()[0]).toBe(0);
        const fd = finiteDifferenceRatio((x) => nstLoss(x as tf.Tensor4D, t), s, gs!.dataSync(), { stride: 5 });
        expect(fd).toBeLessThanOrEqual(1);
      });
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
