import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { distLoss } from '../src/dist';
import { dkdLoss } from '../src/dkd';
import golden from './fixtures/logits-golden.json';
import { toleranceRatio } from './helpers';

/**
 * Golden values from test/fixtures/generate.py (an independent float64 PyTorch port of
 * mdistiller's `dkd_loss` and DIST_KD's `DIST`; gradients by torch autograd, each port checked
 * against finite differences by `gradcheck`). tfjs computes in float32: every value and every
 * gradient entry within abs 1e-6 + rel 1e-4 (toleranceRatio <= 1). The worst ratio of each case
 * is printed.
 */
const matrix = (rows: number[][]) => tf.tensor2d(rows, undefined, 'float32');

describe('dkdLoss vs PyTorch (mdistiller dkd_loss)', () => {
  for (const c of golden.dkd) {
    it(`${c.name}: loss, TCKD and NCKD parts, gradient w.r.t. the student; no gradient to the teacher`, () => {
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        const s = matrix(c.student);
        const t = matrix(c.teacher);
        const y = tf.tensor1d(c.labels, 'int32');
        const loss = dkdLoss(s, t, y, c.options).dataSync()[0]!;
        const tckd = dkdLoss(s, t, y, { ...c.options, alpha: 1, beta: 0 }).dataSync()[0]!;
        const nckd = dkdLoss(s, t, y, { ...c.options, alpha: 0, beta: 1 }).dataSync()[0]!;
        const [gs, gt] = tf.grads((a: tf.Tensor, b: tf.Tensor) => dkdLoss(a as tf.Tensor2D, b as tf.Tensor2D, y, c.options))([s, t]);
        const ratios = {
          loss: toleranceRatio([loss], c.loss),
          tckd: toleranceRatio([tckd], c.tckd),
          nckd: toleranceRatio([nckd], c.nckd),
          grad: toleranceRatio(gs!.dataSync(), c.gradStudent),
        };
        console.log(`dkd ${c.name}: worst ratios ${JSON.stringify(ratios)}`);
        for (const [what, ratio] of Object.entries(ratios)) expect(ratio, what).toBeLessThanOrEqual(1);
        expect(Array.from(gt!.dataSync()).every((g) => g === 0)).toBe(true);
      });
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});

describe('distLoss vs PyTorch (DIST_KD DIST)', () => {
  for (const c of golden.dist) {
    it(`${c.name}: loss, inter and intra parts, gradient w.r.t. the student; no gradient to the teacher`, () => {
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        const s = matrix(c.student);
        const t = matrix(c.teacher);
        const loss = distLoss(s, t, c.options).dataSync()[0]!;
        const inter = distLoss(s, t, { ...c.options, beta: 1, gamma: 0 }).dataSync()[0]!;
        const intra = distLoss(s, t, { ...c.options, beta: 0, gamma: 1 }).dataSync()[0]!;
        const [gs, gt] = tf.grads((a: tf.Tensor, b: tf.Tensor) => distLoss(a as tf.Tensor2D, b as tf.Tensor2D, c.options))([s, t]);
        const ratios = {
          loss: toleranceRatio([loss], c.loss),
          inter: toleranceRatio([inter], c.inter),
          intra: toleranceRatio([intra], c.intra),
          grad: toleranceRatio(gs!.dataSync(), c.gradStudent),
        };
        console.log(`dist ${c.name}: worst ratios ${JSON.stringify(ratios)}`);
        for (const [what, ratio] of Object.entries(ratios)) expect(ratio, what).toBeLessThanOrEqual(1);
        expect(Array.from(gs!.dataSync()).every(Number.isFinite)).toBe(true);
        expect(Array.from(gt!.dataSync()).every((g) => g === 0)).toBe(true);
      });
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
