import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { nativeStatus } from '../src';
import { state } from '../src/kernels/heap';
import { counts, delegatedCalls, expectSameOnCpu, rand, skipReason } from './helpers';

type Case = [shape: [number, number, number, number], filter: number, stride: number, pad: 'valid' | 'same', ties: boolean];

const cases: Case[] = [
  [[2, 28, 28, 8], 2, 2, 'valid', false], // the bench CNN's pools
  [[2, 14, 14, 16], 2, 2, 'same', true], // after a relu: many equal zeros (first match wins)
  [[1, 7, 5, 3], 2, 2, 'same', false], // odd sizes: windows cross the border
  [[2, 9, 9, 4], 3, 1, 'same', true], // overlapping windows with padding
  [[1, 10, 11, 2], 3, 2, 'valid', false],
  [[3, 6, 6, 1], 4, 3, 'same', true],
];

/** The input of a case: with ties, a relu of rounded values (many equal maxima in a window). */
const inputOf = ([shape, , , , ties]: Case) => (ties ? tf.relu(tf.round(rand(shape, 21))) : rand(shape, 22));

describe.skipIf(skipReason !== undefined)(`native MaxPoolGrad${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  it('is registered over the patched wasm kernel', () => {
    expect(nativeStatus().kernels).toContain('MaxPoolGrad');
  });

  it.each(cases)('%j filter %i stride %i %s ties %s: matches cpu and has the bits of the wasm kernel', (...c) => {
    const [, filter, stride, pad] = c;
    const dyOf = (x: tf.Tensor4D) => rand(tf.maxPool(x, filter, stride, pad).shape, 23);
    const gradient = () => {
      const x = inputOf(c) as tf.Tensor4D;
      return tf.grad((t) => tf.sum(tf.mul(tf.maxPool(t as tf.Tensor4D, filter, stride, pad), dyOf(x))))(x);
    };
    // Against tfjs' cpu backend (an independent implementation): sums of the same terms.
    expect(delegatedCalls(() => expectSameOnCpu(gradient, 1e-6))).toBe(0);
    // Against the kernel registered before (kd's JavaScript loop), bit for bit.
    tf.tidy(() => {
      const x = inputOf(c) as tf.Tensor4D;
      const y = tf.maxPool(x, filter, stride, pad);
      const dy = dyOf(x);
      const attrs = { filterSize: filter, strides: stride, pad };
      const before = counts();
      const native = tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: y }, attrs) as tf.Tensor;
      const info = state.previous.get('MaxPoolGrad')!.kernelFunc({ inputs: { dy, input: x, output: y }, backend: tf.backend(), attrs });
      const wasm = tf.engine().makeTensorFromTensorInfo(info as tf.TensorInfo);
      expect(Buffer.from((native.dataSync() as Float32Array).buffer).equals(Buffer.from((wasm.dataSync() as Float32Array).buffer))).toBe(
        true,
      );
      tf.dispose([native, wasm]);
      expect(counts()).toEqual(before);
    });
  });
});
