import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initialLogScale, VariationalRegressor, variationalInformation, variationalInformationLoss } from '../src/vid';
import golden from './fixtures/methods-golden.json';
import { finiteDifferenceRatio, type Nested, tensorOf, toleranceRatio } from './helpers';

/**
 * VID against test/fixtures/generate_methods.py (float64 PyTorch port of RepDistiller's
 * `VIDLoss`, gradients checked by gradcheck): every value and gradient entry within abs 1e-6 +
 * rel 1e-4 (toleranceRatio <= 1); the pure loss's gradient also against float32 central differences.
 */
describe('variationalInformationLoss vs PyTorch', () => {
  for (const c of golden.vidLoss) {
    it(`${c.name}: loss and gradients w.r.t. the predicted mean and alpha`, () => {
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        const mean = tensorOf(c.mean as Nested) as tf.Tensor4D;
        const alpha = tensorOf(c.alpha) as tf.Tensor1D;
        const t = tensorOf(c.teacher as Nested) as tf.Tensor4D;
        const f = (m: tf.Tensor, a: tf.Tensor) => variationalInformationLoss(m as tf.Tensor4D, a as tf.Tensor1D, t, c.eps);
        const [gm, ga] = tf.grads(f)([mean, alpha]);
        const ratios = {
          loss: toleranceRatio(f(mean, alpha).dataSync(), c.loss),
          gradMean: toleranceRatio(gm!.dataSync(), c.gradMean),
          gradAlpha: toleranceRatio(ga!.dataSync(), c.gradAlpha),
        };
        console.log(`vid ${c.name}: worst ratio`, ratios);
        for (const r of Object.values(ratios)) expect(r).toBeLessThanOrEqual(1);
        expect(finiteDifferenceRatio((m) => f(m, alpha), mean, gm!.dataSync(), { stride: 3 })).toBeLessThanOrEqual(1);
        expect(finiteDifferenceRatio((a) => f(mean, a), alpha, ga!.dataSync())).toBeLessThanOrEqual(1);
      });
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it("alpha starts at RepDistiller's log(exp(init_pred_var - eps) - 1), so the variance starts at initVariance", () => {
    const { initVariance, eps, alpha } = golden.vidInitAlpha;
    expect(toleranceRatio([initialLogScale(initVariance, eps)], alpha)).toBeLessThanOrEqual(1);
    const regressor = new VariationalRegressor([null, 2, 2, 3], [null, 2, 2, 4]);
    const variance = tf.tidy(() => tf.add(tf.softplus(regressor.logScale), eps).dataSync());
    expect(toleranceRatio(variance, [initVariance, initVariance, initVariance, initVariance])).toBeLessThanOrEqual(1);
    expect(regressor.hiddenChannels).toBe(4); // the teacher's channels
    regressor.dispose();
  });
});

describe('VID regressor + pooling + loss vs PyTorch (the plugin path)', () => {
  for (const c of golden.vidRegressor) {
    it(`${c.name}: predicted mean, loss and gradients of the kernels, alpha and the student map`, () => {
      const before = tf.memory().numTensors;
      const x = tensorOf(c.x as Nested) as tf.Tensor4D;
      const t = tensorOf(c.teacher as Nested) as tf.Tensor4D;
      const plugin = variationalInformation({ student: 's', teacher: 't', epsilon: c.eps });
      const state = plugin.setup!({
        studentShapes: { s: [null, ...x.shape.slice(1)] },
        teacherShapes: { t: [null, ...t.shape.slice(1)] },
        random: { seed: () => 1 },
      } as never) as { regressor: VariationalRegressor };
      tf.tidy(() => {
        const kernels = c.kernels.map((k) => tensorOf(k as Nested));
        plugin.loadState!(state, {
          tensors: { kernel1: kernels[0]!, kernel2: kernels[1]!, kernel3: kernels[2]!, alpha: tensorOf(c.alpha) },
        });
        const loss = (input: tf.Tensor) =>
          plugin.loss!({ student: { features: { s: input } }, teacher: { features: { t } } } as never, { state } as never) as tf.Scalar;
        const vars = plugin.variables!(state);
        const { value, grads } = tf.variableGrads(() => loss(x), vars);
        const gx = tf.grad(loss)(x);
        const ratios: Record<string, number> = {
          loss: toleranceRatio(value.dataSync(), c.loss),
          x: toleranceRatio(gx.dataSync(), c.grads.x),
          alpha: toleranceRatio(grads[state.regressor.logScale.name]!.dataSync(), c.grads.alpha),
        };
        state.regressor.kernels.forEach((k, i) => {
          ratios[`kernel${i + 1}`] = toleranceRatio(grads[k.name]!.dataSync(), c.grads.kernels[i]);
        });
        if (x.shape[1] === t.shape[1]) ratios['mean'] = toleranceRatio(state.regressor.apply(x).dataSync(), c.mean);
        console.log(`vid regressor ${c.name}: worst ratio`, ratios);
        for (const r of Object.values(ratios)) expect(r).toBeLessThanOrEqual(1);
      });
      plugin.dispose!(state);
      tf.dispose([x, t]);
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
