import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { countKernelCalls, expectFiniteDifferences, expectSameOnCpu, rand, runOn } from './helpers';

const M = 5;
const K = 7;
const N = 6;

function operand(batch: number[], rows: number, cols: number, transposed: boolean, seed: number): tf.Tensor {
  return rand([...batch, ...(transposed ? [cols, rows] : [rows, cols])], seed);
}

const batches: Array<[number[], number[]]> = [
  [[], []],
  [[3], [3]],
  [[3], []],
  [[], [3]],
  [[3], [1]],
  [
    [2, 3],
    [2, 3],
  ],
  [
    [2, 1],
    [1, 3],
  ],
];
const flags = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
] as const;

describe('BatchMatMul', () => {
  for (const [ba, bb] of batches) {
    it.each(flags)(
      `batch ${JSON.stringify(ba)} x ${JSON.stringify(bb)}, transposeA %s transposeB %s: values and gradients match cpu`,
      (ta, tb) => {
        expectSameOnCpu(() => {
          const a = operand(ba, M, K, ta, 1);
          const b = operand(bb, K, N, tb, 2);
          const product = tf.matMul(a, b, ta, tb);
          // tfjs' BatchMatMul gradient does not reduce broadcast batch axes (on any backend).
          if (JSON.stringify(ba) !== JSON.stringify(bb)) return product;
          return [product, ...tf.grads((x, y) => tf.matMul(x!, y!, ta, tb))([a, b])];
        });
      },
    );
  }

  it('is right for a few rows against many transposed rows (CRD scores: (b a^T)^T path), with gradients', () => {
    expectSameOnCpu(() => {
      const [a, b] = [rand([8, 16], 1), rand([300, 16], 2)];
      return [tf.matMul(a, b, false, true), ...tf.grads((x, y) => tf.sum(tf.exp(tf.matMul(x!, y!, false, true))))([a, b])];
    });
  });

  it('is right for large per-batch products (looped batch path)', () => {
    expectSameOnCpu(() => tf.matMul(rand([3, 40, 33], 1), rand([3, 40, 35], 2), true, false));
  });

  // Same batch on both sides, per-batch products of >= 32^3 multiply-adds with >= 8 rows and
  // columns: one XNNPACK product per batch from heap copies (transposed in the copy where asked).
  // Tolerance 1e-4 relative (sums of 33-40 products in another order than cpu's).
  describe('per-batch XNNPACK path (same batch, large products)', () => {
    const [m, k, n] = [40, 33, 35];
    for (const batch of [[3], [2, 2]]) {
      it.each(flags)(`batch ${JSON.stringify(batch)}, transposeA %s transposeB %s: values and gradients match cpu`, (ta, tb) => {
        expectSameOnCpu(() => {
          const a = operand(batch, m, k, ta, 1);
          const b = operand(batch, k, n, tb, 2);
          return [tf.matMul(a, b, ta, tb), ...tf.grads((x, y) => tf.matMul(x!, y!, ta, tb))([a, b])];
        });
      });
    }

    it('runs one stock product per batch and never Slice or Transpose', () => {
      const a = () => rand([5, 40, 33], 1);
      const b = () => rand([5, 35, 33], 2);
      const stock = countKernelCalls(['BatchMatMul'], () => runOn('wasm', () => tf.matMul(a(), b(), false, true)), { stock: true });
      expect(stock.BatchMatMul).toBe(5);
      // wasm's Slice reads its whole input on every call (a per-batch Slice loop is quadratic in
      // the batch), and a Transpose of the whole operand costs more than the product.
      const inner = countKernelCalls(['Slice', 'Transpose', 'StridedSlice'], () =>
        runOn('wasm', () => tf.matMul(rand([5, 33, 40], 3), b(), true, true)),
      );
      expect(inner).toEqual({ Slice: 0, Transpose: 0, StridedSlice: 0 });
    });
  });

  // CRD's reference scores, [B, K, d] x [B, d, 1], and the anchors' gradient [B, K, d]^T x [B, K, 1]:
  // matrix-vector products per batch, left to the stock kernel (its loop is right for them and
  // beats one XNNPACK call per batch). Shapes scaled down from B = 64, K = 4096, d = 128.
  describe('thin same-batch products (CRD scores)', () => {
    const [B, K, d] = [6, 300, 16];
    it('values and the anchors gradient match cpu', () => {
      expectSameOnCpu(() => {
        const rows = rand([B, K, d], 1);
        const anchors = rand([B, d], 2);
        const f = (v: tf.Tensor) => tf.reshape(tf.matMul(rows, tf.expandDims(v, 2)), [B, K]);
        return [f(anchors), tf.grad((v) => tf.sum(tf.exp(tf.mul(f(v), 0.1))))(anchors)];
      });
    });

    it.each(flags)('transposeA %s transposeB %s with one column or one row matches cpu', (ta, tb) => {
      expectSameOnCpu(() => [
        tf.matMul(operand([B], K, d, ta, 1), operand([B], d, 1, tb, 2), ta, tb),
        tf.matMul(operand([B], 1, d, ta, 3), operand([B], d, K, tb, 4), ta, tb),
      ]);
    });

    it('go to the stock kernel in one call, without Slice or Transpose', () => {
      let inner: Record<string, number> = {};
      const stock = countKernelCalls(
        ['BatchMatMul'],
        () => {
          inner = countKernelCalls(['Slice', 'Transpose'], () =>
            runOn('wasm', () => [
              tf.matMul(rand([B, K, d], 1), rand([B, d, 1], 2)),
              tf.matMul(rand([B, K, d], 1), rand([B, K, 1], 3), true),
            ]),
          );
        },
        { stock: true },
      );
      expect(stock.BatchMatMul).toBe(2);
      expect(inner).toEqual({ Slice: 0, Transpose: 0 });
    });
  });
});

describe('_FusedMatMul', () => {
  const activations = ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu', 'prelu'] as const;
  // tfjs' fused.matMul op itself rejects [2,1] x [1,3] batches (it flattens them first).
  for (const [ba, bb] of batches.slice(0, -1)) {
    it.each(flags)(
      `batch ${JSON.stringify(ba)} x ${JSON.stringify(bb)}, transposeA %s transposeB %s, bias [N], every activation`,
      (ta, tb) => {
        for (const activation of activations) {
          expectSameOnCpu(() =>
            tf.fused.matMul({
              a: operand(ba, M, K, ta, 1),
              b: operand(bb, K, N, tb, 2),
              transposeA: ta,
              transposeB: tb,
              bias: rand([N], 3),
              activation,
              leakyreluAlpha: 0.3,
              preluActivationWeights: activation === 'prelu' ? rand([N], 4) : undefined,
            }),
          );
        }
      },
    );
  }

  it.each([[[1]], [[M, N]], [[1, N]], [[M, 1]]])('bias of shape %j matches cpu', (biasShape) => {
    for (const [ta, tb] of flags) {
      expectSameOnCpu(() =>
        tf.fused.matMul({
          a: operand([], M, K, ta, 1),
          b: operand([], K, N, tb, 2),
          transposeA: ta,
          transposeB: tb,
          bias: rand(biasShape, 3),
          activation: 'relu',
        }),
      );
    }
  });

  it('gradients through batched, transposed fused matmuls with bias match cpu and finite differences', () => {
    for (const [ta, tb] of flags) {
      const f = (a: tf.Tensor, b: tf.Tensor, bias: tf.Tensor) =>
        tf.fused.matMul({ a, b, transposeA: ta, transposeB: tb, bias, activation: 'elu' });
      const shapes = [ta ? [2, K, M] : [2, M, K], tb ? [2, N, K] : [2, K, N], [N]];
      expectSameOnCpu(() => tf.grads((a, b, bias) => f(a!, b!, bias!))(shapes.map((s, i) => rand(s, i + 1))));
      expectFiniteDifferences((a, b, bias) => f(a!, b!, bias!), shapes, 50);
    }
  });
});
