import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BackendName, useBestBackend } from '@kd/backend-gpu';
import '@tensorflow/tfjs-backend-cpu';
import { loadModel } from '@kd/core/node';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { run } from '../src/run';

// The example's backend (cpu) unless KD_EXAMPLE_BACKEND names another: CI runs the examples again
// with `native` (@kd/backend-native's OpenBLAS kernels on patched wasm).
await useBestBackend((process.env.KD_EXAMPLE_BACKEND ?? 'cpu') as BackendName);

describe('mnist-distill main job (small size)', () => {
  it('trains teacher, scratch and KD students, prints the table and saves a loadable student', async () => {
    const out = await mkdtemp(join(tmpdir(), 'kd-mnist-'));
    const before = tf.memory().numTensors;
    const result = await run({
      epochs: 2,
      teacherEpochs: 3,
      temperature: 4,
      alpha: 0.9,
      seed: 3,
      studentSeeds: 2,
      batchSize: 128,
      teacherHidden: [32],
      teacherDropout: 0.3,
      studentHidden: [8],
      transfer: 1000,
      out,
      verbose: false,
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(result.table).toMatch(/\| teacher 32 \| 25,450 \|/);
    expect(result.scratch.accuracies).toHaveLength(2);
    expect(result.wins).toBeGreaterThanOrEqual(0);
    expect(result.table).toMatch(/\| student 8, KD \| 6,370 \|/);
    expect(result.teacher.mean).toBeGreaterThan(0.8);
    expect(Number.isFinite(result.gapClosed)).toBe(true);
    const student = await loadModel(out);
    const meta = student.getUserDefinedMetadata() as { kd: { loss: string; test: { accuracy: number } } };
    expect(meta.kd.loss).toBe('Loss = 0.1*ce + 0.9*kd(T=4)');
    expect(meta.kd.test.accuracy).toBeCloseTo(result.distilled.accuracies[0]!, 10);
    student.dispose();
    await rm(out, { recursive: true, force: true });
  });
});
