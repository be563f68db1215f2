import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { nativeStatus } from '../src';
import { state } from '../src/kernels/heap';
import { counts, delegatedCalls, expectSameOnCpu, rand, skipReason } from './helpers';

type Case = [shape: number[], axis: number | number[], keepDims: boolean, native: boolean];

const cases: Case[] = [
  [[64, 28, 28, 8], [0, 1, 2], false, true], // a conv bias gradient
  [[64, 32], 0, false, true], // a dense bias gradient
  [[64, 32], 0, true, true],
  [[5, 7], [0, 1], false, true], // everything
  [[5, 7], 1, false, true], // trailing: row sums
  [[3, 4, 5], [1, 2], true, true],
  [[3, 4, 5], -1, false, true],
  [[1, 9], 0, false, true],
  [[3, 4, 5], [0, 2], false, false], // neither leading nor trailing: the wasm kernel
  [[3, 4, 5], 1, false, false],
];

describe.skipIf(skipReason !== undefined)(`native Sum${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  it('is registered over the wasm kernel', () => {
    expect(nativeStatus().kernels).toContain('Sum');
  });

  it.each(cases)('%j axis %j keepDims %s (native %s): matches cpu and has the bits of the wasm kernel', (shape, axis, keepDims, native) => {
    expect(delegatedCalls(() => expectSameOnCpu(() => tf.sum(rand(shape, 31), axis, keepDims), 1e-5))).toBe(native ? 0 : 1);
    tf.tidy(() => {
      const x = rand(shape, 32);
      const attrs = { axis, keepDims };
      const before = counts();
      const ours = tf.engine().runKernel('Sum', { x }, attrs) as tf.Tensor;
      const info = state.previous.get('Sum')!.kernelFunc({ inputs: { x }, backend: tf.backend(), attrs });
      const wasm = tf.engine().makeTensorFromTensorInfo(info as tf.TensorInfo);
      expect(ours.shape).toEqual(wasm.shape);
      expect(Buffer.from((ours.dataSync() as Float32Array).buffer).equals(Buffer.from((wasm.dataSync() as Float32Array).buffer))).toBe(
        true,
      );
      tf.dispose([ours, wasm]);
      expect(counts()).toEqual(before);
    });
  });

  it('int32 sums go to the wasm kernel', () => {
    const out = tf.tidy(() => Array.from(tf.sum(tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32'), 0).dataSync()));
    expect(out).toEqual([4, 6]);
  });
});
