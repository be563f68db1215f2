import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { factorTransferLoss, Paraphraser, Translator } from '../src/ft';
import golden from './fixtures/methods-golden.json';
import { finiteDifferenceRatio, type Nested, tensorOf, toleranceRatio } from './helpers';

/**
 * FT against test/fixtures/generate_methods.py (float64 PyTorch ports of RepDistiller's
 * `FactorTransfer`, `Paraphraser` and `Translator`; gradients checked by gradcheck): values and
 * gradients within abs 1e-6 + rel 1e-4; the loss's gradient also against float32 central differences.
 */
describe('factorTransferLoss vs PyTorch (RepDistiller FactorTransfer, p2 = 1)', () => {
  for (const c of golden.ftLoss) {
    it(`${c.name}: loss and gradient w.r.t. the student factor, none to the teacher`, () => {
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        const s = tensorOf(c.student as Nested) as tf.Tensor4D;
        const t = tensorOf(c.teacher as Nested) as tf.Tensor4D;
        const options = { factor: c.factor as 'squared-mean' | 'flattened' };
        const f = (a: tf.Tensor, b: tf.Tensor) => factorTransferLoss(a as tf.Tensor4D, b as tf.Tensor4D, options);
        const [gs, gt] = tf.grads(f)([s, t]);
        const ratios = { loss: toleranceRatio(f(s, t).dataSync(), c.loss), grad: toleranceRatio(gs!.dataSync(), c.gradStudent) };
        console.log(`ft ${c.name}: worst ratio`, ratios);
        for (const r of Object.values(ratios)) expect(r).toBeLessThanOrEqual(1);
        expect(tf.max(tf.abs(gt!)).dataSync()[0]).toBe(0);
        expect(finiteDifferenceRatio((x) => f(x, t), s, gs!.dataSync(), { stride: 3, step: 1e-3 })).toBeLessThanOrEqual(1);
      });
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});

const layerTensors = (layers: { kernel: Nested; bias: Nested; gamma?: Nested; beta?: Nested }[], prefix: string) =>
  Object.fromEntries(
    layers.flatMap((l, i) => Object.entries(l).map(([k, v]) => [`${prefix}${i + 1}.${k}`, tensorOf(v as Nested)] as const)),
  );

describe('Paraphraser and Translator vs PyTorch', () => {
  for (const c of golden.paraphraser) {
    it(`paraphraser, ${c.name}: factor, reconstruction, MSE and the gradient of every weight`, () => {
      const before = tf.memory().numTensors;
      const x = tensorOf(c.x as Nested) as tf.Tensor4D;
      const paraphraser = new Paraphraser({ rate: c.rate });
      paraphraser.build([null, ...x.shape.slice(1)]);
      expect(paraphraser.factorChannels).toBe(2);
      tf.tidy(() => {
        paraphraser.setWeights({ ...layerTensors(c.encoder, 'encoder'), ...layerTensors(c.decoder, 'decoder') });
        const ratios: Record<string, number> = {
          factor: toleranceRatio(paraphraser.encode(x).dataSync(), c.factor),
          reconstruction: toleranceRatio(paraphraser.reconstruct(x).dataSync(), c.reconstruction),
        };
        const w = paraphraser.weights();
        const { value, grads } = tf.variableGrads(
          () => tf.mean(tf.squaredDifference(paraphraser.reconstruct(x), x)) as tf.Scalar,
          paraphraser.variables,
        );
        ratios['loss'] = toleranceRatio(value.dataSync(), c.loss);
        const expected = { ...layerTensors(c.gradEncoder, 'encoder'), ...layerTensors(c.gradDecoder, 'decoder') };
        for (const [k, g] of Object.entries(expected)) ratios[k] = toleranceRatio(grads[w[k]!.name]!.dataSync(), g.arraySync());
        console.log(`paraphraser ${c.name}: worst ratio`, ratios);
        for (const [k, r] of Object.entries(ratios)) expect(r, k).toBeLessThanOrEqual(1);
      });
      paraphraser.dispose();
      x.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  for (const c of golden.translator) {
    it(`translator, ${c.name}: output (batch norm, LeakyReLU), FT loss and its gradient w.r.t. the student map`, () => {
      const before = tf.memory().numTensors;
      const x = tensorOf(c.x as Nested) as tf.Tensor4D;
      const target = tensorOf(c.teacherFactor as Nested) as tf.Tensor4D;
      const translator = new Translator([null, ...x.shape.slice(1)], target.shape[3]);
      tf.tidy(() => {
        translator.setWeights(layerTensors(c.layers, 'layer'));
        const loss = (input: tf.Tensor) => factorTransferLoss(translator.apply(input as tf.Tensor4D), target);
        const ratios = {
          output: toleranceRatio(translator.apply(x).dataSync(), c.output),
          loss: toleranceRatio(loss(x).dataSync(), c.loss),
          gradX: toleranceRatio(tf.grad(loss)(x).dataSync(), c.gradX),
        };
        console.log(`translator ${c.name}: worst ratio`, ratios);
        for (const [k, r] of Object.entries(ratios)) expect(r, k).toBeLessThanOrEqual(1);
      });
      translator.dispose();
      tf.dispose([x, target]);
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
