import { type BackendName, useBestBackend } from '@kd/backend-gpu';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { coverageTable, run } from '../src/run';

// The example's backend (cpu) unless KD_EXAMPLE_BACKEND names another: CI runs the examples again
// with `native` (@kd/backend-native's OpenBLAS kernels on patched wasm).
await useBestBackend((process.env.KD_EXAMPLE_BACKEND ?? 'cpu') as BackendName);

describe('specialists-fashion (small size)', () => {
  it('trains generalist + specialists, prints the coverage table, distils a student, leaks nothing', async () => {
    const before = tf.memory().numTensors;
    const result = await run({
      train: 1500,
      test: 400,
      hidden: 32,
      generalistEpochs: 3,
      specialistEpochs: 1,
      studentEpochs: 3,
      clusters: [3, 4],
      maxSize: 5,
      combine: { steps: 30 },
      temperature: 2,
      batchSize: 64,
      seed: 1,
      verbose: false,
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(result.classNames).toHaveLength(10);
    expect(result.subsets.length).toBeGreaterThan(0);
    for (const s of result.subsets) expect(s.length).toBeGreaterThanOrEqual(2);
    // Confusable groups never mix footwear (Sandal 5, Sneaker 7, Ankle boot 9) with upper-body
    // garments (T-shirt 0, Pullover 2, Coat 4, Shirt 6).
    for (const s of [...result.subsets, ...result.confusionSubsets]) {
      expect(s.some((k) => [5, 7, 9].includes(k)) && s.some((k) => [0, 2, 4, 6].includes(k))).toBe(false);
    }
    expect(result.rows.reduce((n, r) => n + r.examples, 0)).toBe(400);
    expect(result.table).toMatch(/^\| # specialists covering \| # test examples/);
    expect(result.table).toMatch(/\| all \| 400 \|/);
    for (const a of [result.generalistAccuracy, result.ensembleAccuracy, result.studentAccuracy]) {
      expect(a).toBeGreaterThan(0.5);
      expect(a).toBeLessThanOrEqual(1);
    }
  });

  it('coverageTable sums the rows', () => {
    const table = coverageTable([
      { covering: 0, examples: 10, generalistCorrect: 5, ensembleCorrect: 5 },
      { covering: 1, examples: 10, generalistCorrect: 8, ensembleCorrect: 9 },
    ]);
    expect(table).toContain('| 1 | 10 | 80.00 % | 90.00 % | +12.50 % |');
    expect(table).toContain('| all | 20 | 65.00 % | 70.00 % | +7.69 % |');
  });
});
