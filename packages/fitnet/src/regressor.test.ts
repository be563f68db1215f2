import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import '../test/helpers';
import { HintRegressor, hintLoss, planRegressor } from './regressor';

const regressed = (s: (number | null)[], t: (number | null)[]) => {
  const regressor = new HintRegressor(s, t, { seed: 3 });
  const batch = 2;
  const shape = tf.tidy(() => regressor.apply(tf.randomNormal([batch, ...(s.slice(1) as number[])], 0, 1, 'float32', 1)).shape);
  const result = { kind: regressor.kind, shape, variables: regressor.variables.map((v) => v.shape), text: regressor.describe() };
  regressor.dispose();
  return result;
};

describe('HintRegressor shapes (every size relation)', () => {
  it('vectors: linear [s] -> [t], kernel [s, t] + bias', () => {
    expect(regressed([null, 5], [null, 7])).toEqual({ kind: 'linear', shape: [2, 7], variables: [[5, 7], [7]], text: 'linear [5] -> [7]' });
  });

  it('student twice the teacher: conv 3x3 stride 2 pad 1 (square and non-square)', () => {
    expect(regressed([null, 4, 4, 2], [null, 2, 2, 3])).toEqual({
      kind: 'conv-stride2',
      shape: [2, 2, 2, 3],
      variables: [[3, 3, 2, 3], [3], [3], [3]],
      text: 'conv 3x3 stride 2 pad 1 [4,4,2] -> [2,2,3] + batchnorm + relu',
    });
    expect(regressed([null, 8, 6, 2], [null, 4, 3, 5]).shape).toEqual([2, 4, 3, 5]);
    // Odd student size: ceil(sH/2) only equals tH when sH = 2 tH, which the rule requires.
    expect(regressed([null, 4, 5, 1], [null, 2, 3, 1]).shape).toEqual([2, 2, 3, 1]);
  });

  it('student half the teacher: transposed conv 4x4 stride 2 pad 1', () => {
    expect(regressed([null, 2, 2, 2], [null, 4, 4, 3])).toEqual({
      kind: 'transposed-conv',
      shape: [2, 4, 4, 3],
      variables: [[4, 4, 3, 2], [3], [3], [3]],
      text: 'transposed conv 4x4 stride 2 pad 1 [2,2,2] -> [4,4,3] + batchnorm + relu',
    });
    expect(regressed([null, 3, 2, 1], [null, 6, 4, 2]).shape).toEqual([2, 6, 4, 2]);
  });

  it('same size: conv 1x1; student larger: conv (1+sH-tH) x (1+sW-tW)', () => {
    expect(regressed([null, 4, 4, 2], [null, 4, 4, 3])).toMatchObject({
      kind: 'conv',
      shape: [2, 4, 4, 3],
      variables: [[1, 1, 2, 3], [3], [3], [3]],
    });
    expect(regressed([null, 5, 4, 2], [null, 3, 3, 3])).toMatchObject({
      kind: 'conv',
      shape: [2, 3, 3, 3],
      variables: [[3, 2, 2, 3], [3], [3], [3]],
    });
    expect(regressed([null, 7, 7, 1], [null, 4, 4, 2])).toMatchObject({
      kind: 'conv',
      shape: [2, 4, 4, 2],
      text: 'conv 4x4 [7,7,1] -> [4,4,2] + batchnorm + relu',
    });
  });

  it('relu: false keeps negative outputs; the batch-normalised output has per-channel mean beta = 0', () => {
    const r = new HintRegressor([null, 4, 4, 2], [null, 4, 4, 3], { relu: false, seed: 1 });
    expect(r.describe()).toBe('conv 1x1 [4,4,2] -> [4,4,3] + batchnorm');
    const [min, channelMean] = tf.tidy(() => {
      const out = r.apply(tf.randomNormal([3, 4, 4, 2], 0, 1, 'float32', 2));
      return [tf.min(out).dataSync()[0]!, tf.max(tf.abs(tf.mean(out, [0, 1, 2]))).dataSync()[0]!];
    });
    expect(min).toBeLessThan(0);
    expect(channelMean).toBeLessThan(1e-5);
    r.dispose();
  });
});

describe('HintRegressor errors', () => {
  it('rank mismatch, unsupported rank, unknown sizes', () => {
    expect(() => planRegressor([null, 16], [null, 4, 4, 2])).toThrow(/rank 2 and the teacher hint rank 4.*both must be vectors/);
    expect(() => planRegressor([null, 4, 4], [null, 4, 4])).toThrow(/vectors \[batch, features\] or NHWC maps/);
    expect(() => planRegressor([null, null, 4, 2], [null, 4, 4, 2])).toThrow(/must be known/);
  });

  it('size relations the reference cannot handle', () => {
    expect(() => planRegressor([null, 3, 3, 2], [null, 4, 4, 2])).toThrow(
      /student map \(3x3\) is smaller than the teacher's \(4x4\) but not exactly half/,
    );
    expect(() => planRegressor([null, 4, 2, 2], [null, 3, 3, 2])).toThrow(/at least as wide as the teacher/);
    expect(() => planRegressor([null, 4, 4, 2], [null, 2, 3, 2])).toThrow(/maps the student's 4x4 map to 2x2, not the teacher's 2x3/);
    expect(() => planRegressor([null, 2, 2, 2], [null, 4, 3, 2])).toThrow(/transposed-conv regressor .* to 4x4, not the teacher's 4x3/);
  });

  it('checks the input shape at apply time and weight shapes in setWeights', () => {
    const r = new HintRegressor([null, 5], [null, 3]);
    const before = tf.memory().numTensors;
    expect(() => tf.tidy(() => r.apply(tf.zeros([2, 4])))).toThrow(/expected student features \[batch, 5\], got \[2,4\]/);
    expect(() => tf.tidy(() => r.setWeights({ kernel: tf.zeros([3, 5]) }))).toThrow(/"kernel" must be \[5,3\]/);
    expect(() => tf.tidy(() => r.setWeights({ gamma: tf.zeros([3]) }))).toThrow(/no weight "gamma"/);
    expect(() => tf.tidy(() => hintLoss(tf.zeros([2, 3]), tf.zeros([2, 4])))).toThrow(/differ in shape/);
    expect(tf.memory().numTensors).toBe(before);
    r.dispose();
  });

  it('initialises like PyTorch: |w| <= 1/sqrt(fanIn), gamma 1, beta 0; reproducible per seed', () => {
    const a = new HintRegressor([null, 2, 2, 3], [null, 4, 4, 5], { seed: 7 });
    const b = new HintRegressor([null, 2, 2, 3], [null, 4, 4, 5], { seed: 7 });
    const bound = 1 / Math.sqrt(4 * 4 * 5);
    expect(Math.max(...Array.from(a.kernel.dataSync(), Math.abs))).toBeLessThanOrEqual(bound);
    expect(Array.from(a.kernel.dataSync())).toEqual(Array.from(b.kernel.dataSync()));
    expect(Array.from(a.gamma!.dataSync())).toEqual([1, 1, 1, 1, 1]);
    expect(Array.from(a.beta!.dataSync())).toEqual([0, 0, 0, 0, 0]);
    a.dispose();
    b.dispose();
  });
});
