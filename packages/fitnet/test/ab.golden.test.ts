import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { activationBoundaryLoss } from '../src/ab';
import { HintRegressor } from '../src/regressor';
import golden from './fixtures/methods-golden.json';
import { finiteDifferenceRatio, type Nested, tensorOf, toleranceRatio } from './helpers';

/**
 * AB against test/fixtures/generate_methods.py (float64 PyTorch port of RepDistiller's `ABLoss`
 * and `ConvReg(use_relu=False)`, gradients checked by gradcheck; inputs kept 0.05 away from the
 * hinge's kinks): loss and gradients within abs 1e-6 + rel 1e-4; the pure loss's gradient also
 * against float32 central differences.
 */
describe('activationBoundaryLoss vs PyTorch (RepDistiller ABLoss)', () => {
  for (const c of golden.abLoss) {
    it(`${c.name}: loss and gradient w.r.t. the student, none to the teacher`, () => {
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        const s = tensorOf(c.student as Nested);
        const t = tensorOf(c.teacher as Nested);
        const f = (a: tf.Tensor, b: tf.Tensor) => activationBoundaryLoss(a, b, { margin: c.margin });
        const [gs, gt] = tf.grads(f)([s, t]);
        const ratios = { loss: toleranceRatio(f(s, t).dataSync(), c.loss), grad: toleranceRatio(gs!.dataSync(), c.gradStudent) };
        console.log(`ab ${c.name}: worst ratio`, ratios);
        for (const r of Object.values(ratios)) expect(r).toBeLessThanOrEqual(1);
        expect(tf.max(tf.abs(gt!)).dataSync()[0]).toBe(0);
        expect(finiteDifferenceRatio((x) => f(x, t), s, gs!.dataSync(), { stride: 2, step: 1e-3 })).toBeLessThanOrEqual(1);
      });
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  for (const c of golden.abConnector) {
    it(`${c.name}: the plugin path (HintRegressor without ReLU, then the loss) and its gradients`, () => {
      const before = tf.memory().numTensors;
      const x = tensorOf(c.x as Nested);
      const t = tensorOf(c.teacher as Nested);
      const connector = new HintRegressor([null, ...x.shape.slice(1)], [null, ...t.shape.slice(1)], { relu: false });
      expect(connector.describe()).toBe('conv 1x1 [3,3,2] -> [3,3,4] + batchnorm');
      tf.tidy(() => {
        connector.setWeights({
          kernel: tensorOf(c.kernel as Nested),
          bias: tensorOf(c.bias),
          gamma: tensorOf(c.gamma),
          beta: tensorOf(c.beta),
        });
        const f = () => activationBoundaryLoss(connector.apply(x), t, { margin: c.margin });
        const { value, grads } = tf.variableGrads(f, connector.variables);
        const gx = tf.grad((input: tf.Tensor) => activationBoundaryLoss(connector.apply(input), t, { margin: c.margin }))(x);
        const w = connector.weights();
        const ratios: Record<string, number> = {
          loss: toleranceRatio(value.dataSync(), c.loss),
          x: toleranceRatio(gx.dataSync(), c.grads.x),
        };
        for (const k of ['kernel', 'bias', 'gamma', 'beta'] as const) {
          ratios[k] = toleranceRatio(grads[w[k]!.name]!.dataSync(), c.grads[k]);
        }
        console.log(`ab ${c.name}: worst ratio`, ratios);
        for (const [k, r] of Object.entries(ratios)) expect(r, k).toBeLessThanOrEqual(1);
      });
      connector.dispose();
      tf.dispose([x, t]);
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
