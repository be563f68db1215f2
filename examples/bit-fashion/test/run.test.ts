import { existsSync } from 'node:fs';
import { type BackendName, useBestBackend } from '@kd/backend-gpu';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { run } from '../src/run';

// The example's backend (wasm) unless KD_EXAMPLE_BACKEND names another: CI runs the examples again
// with `native` (@kd/backend-native's OpenBLAS kernels on patched wasm).
await useBestBackend((process.env.KD_EXAMPLE_BACKEND ?? 'wasm') as BackendName);

describe.skipIf(!existsSync('/usr/share/datasets/fashion-mnist'))('bit-fashion (small size, wasm)', () => {
  it('fine-tunes the BiT teacher with the scaled HyperRule, trains scratch and KD students, prints the table', async () => {
    const before = tf.memory().numTensors;
    const result = await run({
      trainSize: 32,
      testSize: 32,
      stepsScale: 0.02,
      teacherStepsScale: 0.02,
      batchSize: 16,
      baseLr: 0.05,
      resize: 32,
      crop: 28,
      temperature: 4,
      seed: 2,
      verbose: false,
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(result.rule.boundaries).toEqual([2, 4, 6, 8, 10]);
    for (const row of [result.teacher, result.scratch, result.distilled]) {
      expect(row.steps).toBe(10);
      expect(row.accuracy).toBeGreaterThanOrEqual(0);
      expect(row.accuracy).toBeLessThanOrEqual(1);
    }
    expect(result.table).toMatch(/\| BiT ResNet-v2 teacher \| 126,458 \| 10 \|/);
    expect(result.table).toMatch(/\| student \(KD, T=4\) \| 9,098 \| 10 \|/);
  });
});
