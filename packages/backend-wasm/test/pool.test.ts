import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { patchWasmKernels, unpatchWasmKernels } from '../src';
import { expectFiniteDifferences, expectSameOnCpu, maxRelError, rand, runOn } from './helpers';

/** Integers in [-3, 0]: negative maxima and many ties. */
function tiedNegatives(shape: number[], seed: number): tf.Tensor {
  return tf.floor(tf.randomUniform(shape, -3.99, 0.99, 'float32', seed));
}

describe('MaxPoolGrad', () => {
  const cases: Array<[number[], number, number, 'valid' | 'same']> = [
    [[2, 4, 4, 3], 2, 2, 'valid'],
    [[2, 5, 5, 3], 2, 2, 'same'],
    [[1, 7, 7, 2], 3, 2, 'same'],
    [[1, 7, 6, 2], 3, 2, 'valid'],
    [[2, 5, 5, 1], 2, 1, 'valid'],
    [[1, 6, 6, 2], 3, 3, 'same'],
    [[1, 8, 8, 1], 2, 3, 'valid'],
  ];
  for (const mean of [0, -10, 10]) {
    it.each(cases)(`x %j filter %j stride %j pad %j, mean ${mean}, matches cpu`, (xs, f, s, pad) => {
      expectSameOnCpu(() => tf.grad((x) => tf.maxPool(x as tf.Tensor4D, f, s, pad))(rand(xs, 3, mean)));
    });
  }

  it.each(cases)('x %j filter %j stride %j pad %j with ties among negative maxima matches cpu', (xs, f, s, pad) => {
    expectSameOnCpu(() => tf.grad((x) => tf.maxPool(x as tf.Tensor4D, f, s, pad))(tiedNegatives(xs, 4)));
  });

  // The loop's three forms: windows inside the input (unrolled for 2x2, generic otherwise) and
  // windows across the border (padding). Non-overlapping windows must agree exactly (each dx is
  // one dy); overlapping ones to 1e-6 relative (a dx sums dys, maybe in another order than cpu).
  const loopCases: Array<[number[], number | [number, number], number | [number, number], 'valid' | 'same', number]> = [
    [[3, 28, 28, 8], 2, 2, 'valid', 0], // the CNN student's pools (smaller batch): all 2x2 inside
    [[3, 14, 14, 16], 2, 2, 'valid', 0],
    [[2, 9, 7, 3], 2, 2, 'valid', 0], // odd sizes: the last row / column is in no window
    [[2, 9, 7, 3], 2, 2, 'same', 0], // ... or in border windows
    [[2, 6, 7, 3], 2, 1, 'same', 1e-6], // 2x2 overlapping, inside + border
    [[2, 8, 8, 2], 3, 1, 'valid', 1e-6], // 3x3 overlapping, generic inner loop
    [[2, 8, 9, 2], 3, 2, 'same', 1e-6],
    [[2, 7, 9, 2], [2, 3], [1, 2], 'same', 1e-6], // non-square window and strides
    [[1, 4, 4, 3], 4, 4, 'valid', 0], // one window per image
    [[2, 5, 5, 1], 5, 1, 'same', 1e-6], // every window crosses the border
  ];
  it.each(loopCases)('x %j filter %j stride %j pad %j: ReLU-like input (ties at 0), tolerance %s', (xs, f, s, pad, tol) => {
    expectSameOnCpu(() => tf.grad((x) => tf.maxPool(tf.relu(x) as tf.Tensor4D, f, s, pad))(rand(xs, 6, -0.3)), tol || 1e-12);
    expectSameOnCpu(() => tf.grad((x) => tf.maxPool(x as tf.Tensor4D, f, s, pad))(tiedNegatives(xs, 7)), tol || 1e-12);
  });

  it('matches finite differences for negative inputs', () => {
    expectFiniteDifferences((x) => tf.maxPool(tf.sub(x, 10) as tf.Tensor4D, 3, 2, 'same'), [[2, 7, 7, 2]], 5, 1e-3);
  });

  it('stock wasm drops the gradient of all-negative windows (the bug this replaces)', () => {
    const grad = () => tf.grad((x) => tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid'))(rand([1, 4, 4, 1], 1, -10));
    const cpu = runOn('cpu', grad);
    unpatchWasmKernels();
    try {
      expect(maxRelError(cpu, runOn('wasm', grad))).toBeGreaterThan(0.1);
    } finally {
      patchWasmKernels();
    }
    expect(maxRelError(cpu, runOn('wasm', grad))).toBe(0);
  });
});

describe('MaxPool3D and MaxPool3DGrad', () => {
  const cases: Array<[number[], number, number, 'valid' | 'same']> = [
    [[1, 4, 4, 4, 2], 2, 2, 'valid'],
    [[2, 5, 4, 5, 1], 2, 2, 'same'],
    [[1, 5, 5, 5, 2], 3, 2, 'same'],
    [[1, 4, 4, 4, 1], 2, 1, 'valid'],
  ];
  for (const mean of [0, -10]) {
    it.each(cases)(`x %j filter %j stride %j pad %j, mean ${mean}, matches cpu`, (xs, f, s, pad) => {
      expectSameOnCpu(() => {
        const x = rand(xs, 5, mean) as tf.Tensor5D;
        return [tf.maxPool3d(x, f, s, pad), tf.grad((t) => tf.maxPool3d(t as tf.Tensor5D, f, s, pad))(x)];
      });
    });
  }
});
