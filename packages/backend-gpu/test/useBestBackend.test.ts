import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { BackendUnavailableError, useBestBackend } from '../src';

describe('useBestBackend', () => {
  it('falls back past the missing tfjs-node packages to patched wasm and says why', async () => {
    const choice = await useBestBackend();
    expect(choice.name).toBe('wasm');
    expect(choice.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(choice.device).toBe('cpu');
    expect(choice.description).toMatch(/^wasm \(SIMD, 1 thread, \d+ kernels patched for training\)$/);
    expect(choice.skipped.map((s) => s.name)).toEqual(['tfjs-node-gpu', 'tfjs-node']);
    expect(choice.skipped[1]!.reason).toContain('pnpm add @tensorflow/tfjs-node');
    // The patched wasm trains convnets: Conv2DBackpropFilter exists.
    const before = tf.memory().numTensors;
    const shape = tf.tidy(() => tf.grad((x) => tf.conv2d(x as tf.Tensor4D, tf.ones([3, 3, 1, 2]), 2, 'same'))(tf.ones([1, 5, 5, 1])).shape);
    expect(shape).toEqual([1, 5, 5, 1]);
    expect(tf.memory().numTensors).toBe(before);
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
