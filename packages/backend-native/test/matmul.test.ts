import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { nativeStatus } from '../src';
import { delegatedCalls, expectSameOnCpu, rand, report, runOn, skipReason } from './helpers';

type Activation = 'linear' | 'relu' | 'relu6' | 'elu' | 'sigmoid' | 'leakyrelu' | 'prelu';

describe.skipIf(skipReason !== undefined)(`native matmul kernels${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  it('are registered over the patched wasm kernels', () => {
    expect(report.active).toBe(true);
    expect(nativeStatus().kernels).toEqual(expect.arrayContaining(['BatchMatMul', '_FusedMatMul']));
    expect(report.kernels.find((k) => k.kernel === 'BatchMatMul')?.action).toBe('replaced');
    expect(report.description).toMatch(/^native: OpenBLAS .*1 thread/);
  });

  const sizes: Array<[number, number, number]> = [
    [1, 1, 1],
    [3, 5, 7],
    [17, 33, 9],
    [64, 128, 32],
    [1, 300, 10],
  ];
  const transposes: Array<[boolean, boolean]> = [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ];
  const cases = sizes.flatMap(([m, k, n]) => transposes.map(([ta, tb]) => [m, k, n, ta, tb] as const));

  it.each(cases)('BatchMatMul 2-D M=%i K=%i N=%i transposeA=%s transposeB=%s matches cpu', (m, k, n, ta, tb) => {
    const f = () => tf.matMul(rand(ta ? [k, m] : [m, k], 1), rand(tb ? [n, k] : [k, n], 2), ta, tb);
    expect(delegatedCalls(() => expectSameOnCpu(f))).toBe(0);
  });

  const batched: Array<[number[], number[], boolean, boolean]> = [
    [[3, 4, 5], [3, 5, 6], false, false],
    [[3, 5, 4], [3, 6, 5], true, true],
    [[2, 1, 4, 5], [3, 5, 6], false, false], // batch broadcast -> [2, 3, 4, 6]
    [[2, 1, 5, 4], [1, 3, 5, 6], true, false],
    [[4, 5], [6, 5, 7], false, false], // a unbatched
    [[6, 4, 5], [5, 7], false, false], // b unbatched: batch folded into rows
    [[6, 5, 4], [7, 5], true, true],
    [[2, 3, 4, 8, 16], [2, 3, 4, 16, 8], false, false], // rank 5
    [[1, 9, 33], [1, 33, 65], false, false],
  ];
  it.each(batched)('BatchMatMul a %j x b %j transposeA=%s transposeB=%s (batched, broadcast) matches cpu', (as, bs, ta, tb) => {
    const f = () => tf.matMul(rand(as, 3), rand(bs, 4), ta, tb);
    // The reference broadcasts the batch axes first: tfjs-backend-cpu 4.22's BatchMatMul returns
    // max(batchA, batchB) matrices when both sides broadcast ([2, 1] x [3] batches: 3, not 6).
    const outer = tf.broadcast_util.assertAndGetBroadcastShape(as.slice(0, -2), bs.slice(0, -2));
    const reference = () =>
      tf.matMul(tf.broadcastTo(rand(as, 3), [...outer, ...as.slice(-2)]), tf.broadcastTo(rand(bs, 4), [...outer, ...bs.slice(-2)]), ta, tb);
    expect(delegatedCalls(() => expectSameOnCpu(f, undefined, reference))).toBe(0);
  });

  it('square products 256 and 512 match cpu', () => {
    for (const n of [256, 512]) expectSameOnCpu(() => tf.matMul(rand([n, n], n), rand([n, n], n + 1)));
  });

  it('K = 0 gives zeros and M = 0 an empty result', () => {
    expectSameOnCpu(() => tf.matMul(tf.zeros([3, 0]), tf.zeros([0, 4])));
    expectSameOnCpu(() => tf.matMul(tf.zeros([0, 5]), rand([5, 4], 1)));
    expectSameOnCpu(() => tf.matMul(tf.zeros([2, 0, 5]), rand([2, 5, 4], 1)));
  });

  it('int32 operands go to the previous kernel (which refuses them on wasm, as without this package)', () => {
    tf.setBackend('wasm');
    const f = () => tf.tidy(() => tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32'), tf.tensor2d([5, 6, 7, 8], [2, 2], 'int32')));
    expect(delegatedCalls(() => expect(f).toThrow(/non-float32/))).toBe(1);
  });

  it('mismatched inner sizes raise tfjs’ error', () => {
    tf.setBackend('wasm');
    expect(() => tf.matMul(rand([2, 3], 1), rand([4, 5], 2))).toThrow(/inner shapes/);
  });

  const activations: Activation[] = ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu', 'prelu'];
  it.each(activations)('_FusedMatMul with a bias of length N and %s matches cpu', (activation) => {
    const f = () =>
      tf.fused.matMul({
        a: rand([9, 13], 1),
        b: rand([13, 7], 2),
        bias: rand([7], 3),
        activation,
        leakyreluAlpha: 0.1,
        preluActivationWeights: activation === 'prelu' ? rand([7], 4, 0.3) : undefined,
      });
    expect(delegatedCalls(() => expectSameOnCpu(f))).toBe(0);
  });

  const fusedShapes: Array<[string, number[], number[], number[] | null, number[] | null, boolean, boolean]> = [
    ['scalar bias', [5, 6], [6, 4], [1], null, false, false],
    ['rank-2 [1, N] bias, transposed', [6, 5], [4, 6], [1, 4], null, true, true],
    ['full [M, N] bias, b transposed', [5, 6], [4, 6], [5, 4], null, false, true],
    ['batched, bias [N]', [3, 5, 6], [3, 6, 4], [4], null, false, false],
    ['batched, bias [B, 1, N] (broadcast through wasm Add)', [3, 5, 6], [3, 6, 4], [3, 1, 4], null, false, false],
    ['batched, bias [M, 1] (broadcast through wasm Add)', [3, 5, 6], [6, 4], [5, 1], null, false, false],
    ['prelu weights [M, N]', [5, 6], [6, 4], [4], [5, 4], false, false],
    ['prelu weights scalar', [5, 6], [6, 4], null, [1], false, false],
    ['prelu weights [M, 1] (through wasm Prelu)', [5, 6], [6, 4], [4], [5, 1], false, false],
    ['no bias, a transposed', [6, 5], [6, 4], null, null, true, false],
  ];
  it.each(fusedShapes)('_FusedMatMul %s matches cpu', (_what, as, bs, biasShape, preluShape, ta, tb) => {
    expectSameOnCpu(() =>
      tf.fused.matMul({
        a: rand(as, 1),
        b: rand(bs, 2),
        transposeA: ta,
        transposeB: tb,
        bias: biasShape ? rand(biasShape, 3) : undefined,
        activation: preluShape ? 'prelu' : 'relu',
        preluActivationWeights: preluShape ? rand(preluShape, 4, 0.3) : undefined,
      }),
    );
  });

  // Outputs wider than the addon's block (256K floats / N rows) run block by block, the epilogue after each.
  const blocked: Array<[string, number[], number[], number[], boolean]> = [
    ['2-D, full bias, 3 blocks', [600, 64], [64, 1024], [600, 1024], false],
    ['batched, full bias [B, M, N], blocks inside each batch', [3, 300, 16], [3, 16, 1024], [3, 300, 1024], false],
    ['batched, a transposed, bias [N]', [3, 16, 300], [3, 16, 1024], [1024], true],
  ];
  it.each(blocked)('_FusedMatMul %s matches cpu', (_what, as, bs, biasShape, ta) => {
    const f = () =>
      tf.fused.matMul({
        a: rand(as, 1),
        b: rand(bs, 2),
        transposeA: ta,
        bias: rand(biasShape, 3),
        activation: 'prelu',
        preluActivationWeights: rand([1024], 4),
      });
    expect(delegatedCalls(() => expectSameOnCpu(f))).toBe(0);
  });

  it('gradients of a fused dense layer (bias + relu) match cpu', () => {
    expectSameOnCpu(() =>
      tf.grads((x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(tf.fused.matMul({ a: x, b: w, bias: b, activation: 'relu' }), rand([16, 10], 9))),
      )([rand([16, 32], 1), rand([32, 10], 2), rand([10], 3)]),
    );
  });

  it('one training step of an MLP (dense layers) gives the cpu losses and weights', async () => {
    const tfl = await import('@tensorflow/tfjs-layers');
    const step = () => {
      const model = tfl.sequential({
        layers: [
          tfl.layers.dense({ inputShape: [784], units: 64, activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: 1 }) }),
          tfl.layers.dense({ units: 10, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
        ],
      });
      const x = rand([32, 784], 5);
      const y = tf.oneHot(
        tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1], 'int32'),
        10,
      );
      const opt = tf.train.sgd(0.1);
      const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor) as tf.Scalar, true)!;
      const out = [loss, ...model.getWeights().map((w) => w.clone())];
      model.dispose();
      opt.dispose();
      return out;
    };
    const cpu = runOn('cpu', step);
    const wasm = runOn('wasm', step);
    cpu.values.forEach((v, i) => {
      const w = wasm.values[i]!;
      let worst = 0;
      for (let j = 0; j < v.length; j++) worst = Math.max(worst, Math.abs(v[j]! - w[j]!) / (1 + Math.abs(v[j]!)));
      expect(worst, `output ${i}`).toBeLessThan(1e-5);
    });
  });
});
