import { type BackendName, useBestBackend } from '@kd/backend-gpu';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { run } from '../src/run';

// The example's backend (cpu) unless KD_EXAMPLE_BACKEND names another: CI runs the examples again
// with `native` (@kd/backend-native's OpenBLAS kernels on patched wasm).
await useBestBackend((process.env.KD_EXAMPLE_BACKEND ?? 'cpu') as BackendName);

describe('fitnet-mnist (small size)', () => {
  it('one Distiller with ce + kd + crd + fitnet on real digits: every term logged per epoch, nothing leaked', async () => {
    const before = tf.memory().numTensors;
    const result = await run({
      epochs: 2,
      teacherEpochs: 1,
      batchSize: 100,
      seed: 2,
      teacherHidden: [32, 16],
      studentHidden: [16, 8],
      guided: 1,
      hint: 1,
      temperature: 4,
      kdWeight: 0.9,
      crdWeight: 0.8,
      fitnetWeight: 100,
      negatives: 64,
      learningRate: 0.003,
      train: 600,
      verbose: false,
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(result.description).toBe('Loss = 1*ce + 0.9*kd(T=4) + 0.8*crd + 100*fitnet');
    expect(result.epochs).toHaveLength(2);
    for (const epoch of result.epochs) {
      for (const term of ['ce', 'kd', 'crd', 'fitnet']) expect(Number.isFinite(epoch.terms[term])).toBe(true);
    }
    expect(result.epochs[1]!.terms['fitnet']!).toBeLessThan(result.epochs[0]!.terms['fitnet']!);
    expect(result.table.split('\n')).toHaveLength(4);
    expect(result.studentAccuracy).toBeGreaterThan(0.2);
  });
});
