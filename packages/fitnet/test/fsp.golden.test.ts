import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { type FspMapPair, fspLoss, fspMatrix } from '../src/fsp';
import golden from './fixtures/methods-golden.json';
import { finiteDifferenceRatio, type Nested, tensorOf, toleranceRatio } from './helpers';

/**
 * FSP against test/fixtures/generate_methods.py (float64 PyTorch port of RepDistiller's `FSP`,
 * gradients checked by gradcheck): matrices, the loss summed over pairs and the gradient w.r.t.
 * every student map within abs 1e-6 + rel 1e-4; the gradient also against float32 central differences.
 */
describe('fspMatrix and fspLoss vs PyTorch (RepDistiller FSP)', () => {
  for (const c of golden.fsp) {
    it(`${c.name}: matrices, loss, gradients`, () => {
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        const pairsOf = (v: Nested[][]) => v.map((p) => [tensorOf(p[0]!), tensorOf(p[1]!)] as unknown as FspMapPair);
        const s = pairsOf(c.student as Nested[][]);
        const t = pairsOf(c.teacher as Nested[][]);
        const ratios: Record<string, number> = { loss: toleranceRatio(fspLoss(s, t).dataSync(), c.loss) };
        s.forEach((p, i) => {
          ratios[`studentMatrix${i}`] = toleranceRatio(fspMatrix(p[0], p[1]).dataSync(), c.studentMatrices[i]);
          ratios[`teacherMatrix${i}`] = toleranceRatio(fspMatrix(t[i]![0], t[i]![1]).dataSync(), c.teacherMatrices[i]);
        });
        const flat = s.flatMap((p) => [p[0], p[1]]);
        const rebuild = (xs: tf.Tensor[]) => s.map((_, i) => [xs[2 * i], xs[2 * i + 1]] as unknown as FspMapPair);
        const grads = tf.grads((...xs: tf.Tensor[]) => fspLoss(rebuild(xs), t))(flat);
        grads.forEach((g, k) => {
          ratios[`grad${k}`] = toleranceRatio(g.dataSync(), (c.gradStudent as Nested[][])[Math.floor(k / 2)]![k % 2]);
          const fd = finiteDifferenceRatio((x) => fspLoss(rebuild(flat.map((y, j) => (j === k ? x : y))), t), flat[k]!, g.dataSync(), {
            stride: 4,
          });
          expect(fd, `finite differences ${k}`).toBeLessThanOrEqual(1);
        });
        console.log(`fsp ${c.name}: worst ratio`, ratios);
        for (const [k, r] of Object.entries(ratios)) expect(r, k).toBeLessThanOrEqual(1);
      });
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
