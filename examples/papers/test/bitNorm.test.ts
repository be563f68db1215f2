import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { runBitNorm } from '../src/bitNorm';
import { exampleBackend, freshDir, hasFashion } from './setup';

await exampleBackend();

describe.skipIf(!hasFashion)('bit-norm (small size)', () => {
  it('trains GN + WS and BatchNorm ResNets at batch 4, 16 and 64 for the same steps over 3 seeds; a rerun resumes to the same table', async () => {
    const before = tf.memory().numTensors;
    const dir = freshDir();
    const first = await runBitNorm('small', dir);
    expect(tf.memory().numTensors).toBe(before);
    expect(first.rows.map((r) => r.arm)).toEqual([
      'GN + WS, batch 4',
      'BatchNorm, batch 4',
      'GN + WS, batch 16',
      'BatchNorm, batch 16',
      'GN + WS, batch 64',
      'BatchNorm, batch 64',
    ]);
    for (const row of first.rows) {
      expect(row.errors).toHaveLength(3);
      for (const e of row.errors) expect(e).toBeGreaterThanOrEqual(0);
      for (const e of row.errors) expect(e).toBeLessThanOrEqual(100);
    }
    expect(first.table).toMatch(/4 steps per run, seeds 1, 2, 3/);
    const resumed = await runBitNorm('small', dir);
    // BatchNorm's moving statistics come back with the checkpoint: the same errors in inference mode.
    expect(resumed.rows.map((r) => r.errors)).toEqual(first.rows.map((r) => r.errors));
    expect(tf.memory().numTensors).toBe(before);
  });
});
