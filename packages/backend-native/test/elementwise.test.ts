import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { nativeStatus } from '../src';
import { state } from '../src/kernels/heap';
import { counts, delegatedCalls, expectSameOnCpu, rand, skipReason } from './helpers';

type Op = 'Add' | 'Sub' | 'Multiply';
type Case = [op: Op, a: number[], b: number[], native: boolean];

const shapes: [number[], number[], boolean][] = [
  [[64, 28, 28, 8], [8], true], // conv bias add
  [[64, 32], [64, 32], true],
  [[64, 32], [], true],
  [[], [5, 3], true],
  [[1, 1, 4], [2, 3, 4], true],
  [[7], [3, 7], true],
  [[3, 1], [3, 4], false], // another broadcast: the wasm kernel
  [[2, 3], [1, 2, 3], false],
];
const cases: Case[] = (['Add', 'Sub', 'Multiply'] as const).flatMap((op) => shapes.map(([a, b, native]) => [op, a, b, native] as Case));
const opOf = { Add: tf.add, Sub: tf.sub, Multiply: tf.mul };

describe.skipIf(skipReason !== undefined)(`native Add, Sub, Multiply${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  it('are registered over the wasm kernels', () => {
    expect(nativeStatus().kernels).toEqual(expect.arrayContaining(['Add', 'Sub', 'Multiply']));
  });

  it.each(cases)('%s %j %j (native %s): matches cpu and has the bits of the wasm kernel', (op, aShape, bShape, native) => {
    const f = () => opOf[op](rand(aShape, 41), rand(bShape, 42));
    expect(delegatedCalls(() => expectSameOnCpu(f, 1e-7))).toBe(native ? 0 : 1);
    tf.tidy(() => {
      const a = rand(aShape, 43);
      const b = rand(bShape, 44);
      const before = counts();
      const ours = tf.engine().runKernel(op, { a, b }) as tf.Tensor;
      const info = state.previous.get(op)!.kernelFunc({ inputs: { a, b }, backend: tf.backend(), attrs: {} });
      const wasm = tf.engine().makeTensorFromTensorInfo(info as tf.TensorInfo);
      expect(ours.shape).toEqual(wasm.shape);
      expect(Buffer.from((ours.dataSync() as Float32Array).buffer).equals(Buffer.from((wasm.dataSync() as Float32Array).buffer))).toBe(
        true,
      );
      tf.dispose([ours, wasm]);
      expect(counts()).toEqual(before);
    });
  });

  it('int32 operands go to the wasm kernels', () => {
    expect(tf.tidy(() => Array.from(tf.add(tf.tensor1d([1, 2], 'int32'), tf.tensor1d([3, 4], 'int32')).dataSync()))).toEqual([4, 6]);
  });
});
