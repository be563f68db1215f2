import * as tf from '@tensorflow/tfjs-core';
import { describe, it } from 'vitest';
import { expectFiniteDifferences, expectSameOnCpu, rand } from './helpers';

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
