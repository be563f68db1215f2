import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { attentionLoss, attentionMap } from '../src/attention';
import { HintRegressor, hintLoss } from '../src/regressor';
import golden from './fixtures/fitnet-golden.json';
import { maxDiff } from './helpers';

/**
 * Golden values from test/fixtures/generate.py (independent float64 PyTorch implementation).
 * tfjs computes in float32. Tolerances: regressor outputs and attention maps abs 1e-5; losses
 * rel 1e-5; gradients abs 1e-5 relative to the largest gradient entry of the tensor (scale).
 */
type Nested = number | Nested[];
const tensor = (v: Nested) => tf.tensor(v as number[], undefined, 'float32');
const shapeOf = (v: Nested): number[] => (Array.isArray(v) ? [v.length, ...shapeOf(v[0]!)] : []);

describe('hint regressors vs PyTorch (ConvReg / Linear, batch-norm in training mode)', () => {
  for (const c of golden.regressors) {
    it(`${c.name}: output, MSE hint loss and gradients of every variable and the input`, () => {
      const before = tf.memory().numTensors;
      const s = [null, ...c.studentShape.slice(1)];
      const t = [null, ...c.teacherShape.slice(1)];
      const regressor = new HintRegressor(s, t);
      expect(regressor.kind).toBe(c.kind);
      tf.tidy(() => {
        const weights: Record<string, tf.Tensor> = { kernel: tensor(c.kernel as Nested), bias: tensor(c.bias) };
        if ('gamma' in c) Object.assign(weights, { gamma: tensor(c.gamma as Nested), beta: tensor(c.beta as Nested) });
        regressor.setWeights(weights);
        const x = tensor(c.x as Nested);
        const teacher = tensor(c.teacher as Nested);
        expect(x.shape).toEqual(shapeOf(c.x as Nested));
        const out = regressor.apply(x);
        expect(out.shape).toEqual(c.teacherShape);
        expect(maxDiff(out.dataSync(), c.output).abs).toBeLessThan(1e-5);
        const loss = hintLoss(out, teacher).dataSync()[0]!;
        expect(Math.abs(loss - c.loss) / c.loss).toBeLessThan(1e-5);

        const names = Object.keys(c.grads).filter((k) => k !== 'x');
        const vars = regressor.weights();
        const { grads } = tf.variableGrads(
          () => hintLoss(regressor.apply(x), teacher),
          names.map((n) => vars[n]!),
        );
        for (const n of names) {
          const d = maxDiff(grads[vars[n]!.name]!.dataSync(), (c.grads as Record<string, Nested>)[n]);
          expect(d.abs / Math.max(d.scale, 1), `grad ${n}`).toBeLessThan(1e-5);
        }
        const gx = tf.grad((input: tf.Tensor) => hintLoss(regressor.apply(input), teacher))(x);
        const dx = maxDiff(gx.dataSync(), c.grads.x);
        expect(dx.abs / Math.max(dx.scale, 1), 'grad x').toBeLessThan(1e-5);
      });
      regressor.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});

describe('attention transfer vs PyTorch (RepDistiller Attention.at_loss)', () => {
  for (const c of golden.attention) {
    it(`${c.name} (p=${c.p}): normalised maps, loss and its gradient`, () => {
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        const s = tensor(c.student as Nested) as tf.Tensor4D;
        const t = tensor(c.teacher as Nested) as tf.Tensor4D;
        const loss = attentionLoss(s, t, c.p).dataSync()[0]!;
        expect(Math.abs(loss - c.loss) / c.loss).toBeLessThan(1e-5);
        if (s.shape[1] === t.shape[1]) {
          expect(maxDiff(attentionMap(s, c.p).dataSync(), c.studentMap).abs).toBeLessThan(1e-5);
          expect(maxDiff(attentionMap(t, c.p).dataSync(), c.teacherMap).abs).toBeLessThan(1e-5);
        }
        const g = tf.grad((x: tf.Tensor) => attentionLoss(x as tf.Tensor4D, t, c.p))(s);
        const d = maxDiff(g.dataSync(), c.gradStudent);
        expect(d.abs / Math.max(d.scale, 1e-3)).toBeLessThan(1e-4);
      });
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('the sum over the first three pairs matches', () => {
    const total = tf.tidy(() =>
      golden.attention
        .slice(0, 3)
        .reduce(
          (acc, c) =>
            acc + attentionLoss(tensor(c.student as Nested) as tf.Tensor4D, tensor(c.teacher as Nested) as tf.Tensor4D).dataSync()[0]!,
          0,
        ),
    );
    expect(Math.abs(total - golden.attentionTotal) / golden.attentionTotal).toBeLessThan(1e-5);
  });
});
