import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { BackendUnavailableError, useBestBackend } from '../src';

describe('useBestBackend', () => {
  it('picks native (wasm + OpenBLAS kernels) past the missing tfjs-node packages, or says in one line why not', async () => {
    const choice = await useBestBackend();
    expect(choice.skipped.slice(0, 2).map((s) => s.name)).toEqual(['tfjs-node-gpu', 'tfjs-node']);
    expect(choice.skipped[1]!.reason).toContain('pnpm add @tensorflow/tfjs-node');
    expect(choice.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(choice.device).toBe('cpu');
    if (process.env.KD_REQUIRE_NATIVE === '1') expect(choice.name).toBe('native');
    if (choice.name === 'native') {
      expect(choice.skipped).toHaveLength(2);
      expect(choice.description).toMatch(/^wasm \(SIMD, 1 thread, \d+ kernels patched for training\) \+ native: OpenBLAS /);
      expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    } else {
      expect(choice.name).toBe('wasm');
      const native = choice.skipped[2]!;
      expect(native.name).toBe('native');
      expect(native.reason).not.toContain('\n');
      expect(native.reason.length).toBeGreaterThan(10);
    }
    // Either way the step trains convnets: Conv2DBackpropFilter exists and leaks nothing.
    const before = tf.memory().numTensors;
    const shape = tf.tidy(() => tf.grad((x) => tf.conv2d(x as tf.Tensor4D, tf.ones([3, 3, 1, 2]), 2, 'same'))(tf.ones([1, 5, 5, 1])).shape);
    expect(shape).toEqual([1, 5, 5, 1]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('plain wasm after native removes the native kernels, and native again puts them back', async () => {
    const first = await useBestBackend(['native', 'wasm']);
    if (first.name !== 'native') return expect(process.env.KD_REQUIRE_NATIVE).not.toBe('1');
    const nativeFilter = tf.getKernel('Conv2DBackpropFilter', 'wasm')!.kernelFunc;
    const wasm = await useBestBackend('wasm');
    expect(wasm.description).toMatch(/^wasm \(SIMD, 1 thread, \d+ kernels patched for training\)$/);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')!.kernelFunc).not.toBe(nativeFilter);
    // The two paths compute the same convolution gradient (float32 sums in another order).
    const input = tf.tensor4d(
      Array.from({ length: 50 }, (_, k) => k / 50),
      [2, 5, 5, 1],
    );
    const grad = () =>
      tf.tidy(() =>
        tf
          .grad((w) => tf.sum(tf.square(tf.conv2d(input, w as tf.Tensor4D, 1, 'same'))))(tf.ones([3, 3, 1, 2]))
          .dataSync(),
      );
    const onWasm = grad();
    expect((await useBestBackend('native')).name).toBe('native');
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')!.kernelFunc).toBe(nativeFilter);
    const onNative = grad();
    onNative.forEach((v, i) => expect(v).toBeCloseTo(onWasm[i]!, 3));
    await useBestBackend('wasm');
    input.dispose();
  });

  it('fails for an explicitly requested backend that is not installed, with the install command', async () => {
    const attempt = useBestBackend('tfjs-node');
    await expect(attempt).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(useBestBackend('tfjs-node-gpu')).rejects.toThrow('pnpm add @tensorflow/tfjs-node-gpu');
    const error = await useBestBackend('tfjs-node').catch((e: BackendUnavailableError) => e);
    expect((error as BackendUnavailableError).installCommand).toBe('pnpm add @tensorflow/tfjs-node');
  });

  it('honours an explicit order', async () => {
    const choice = await useBestBackend(['tfjs-node', 'cpu', 'wasm']);
    expect(choice.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(choice.skipped).toEqual([{ name: 'tfjs-node', reason: expect.stringContaining('not installed') }]);
    expect((await useBestBackend('wasm')).backend).toBe('wasm');
  });
});
