import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, vi } from 'vitest';
import { useBestBackend } from '../src';

// @kd/backend-native as it answers on a machine where its addon or OpenBLAS cannot load.
const reason = 'OpenBLAS could not be loaded: libopenblas.so.0: cannot open shared object file (apt-get install libopenblas0)';
vi.mock('@kd/backend-native', () => ({
  useNativeKernels: vi.fn(async () => ({ active: false, reason, description: `native: off (${reason})`, kernels: [] })),
  unuseNativeKernels: vi.fn(),
}));

describe('useBestBackend when @kd/backend-native cannot load', () => {
  it('falls back to patched wasm and gives the native reason in one line', async () => {
    const choice = await useBestBackend();
    expect(choice.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(choice.skipped.map((s) => s.name)).toEqual(['tfjs-node-gpu', 'tfjs-node', 'native']);
    expect(choice.skipped[2]!.reason).toBe(`failed to load: ${reason}`);
  });

  it('asked for by name, it fails with backend-unavailable and the reason', async () => {
    await expect(useBestBackend('native')).rejects.toMatchObject({
      code: 'backend-unavailable',
      message: `Backend 'native' failed to load: ${reason}`,
    });
  });
});
