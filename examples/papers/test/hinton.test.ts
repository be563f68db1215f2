import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { runHinton } from '../src/hinton';
import { exampleBackend, freshDir, hasFashion } from './setup';

await exampleBackend();

describe.skipIf(!hasFashion)('hinton (small size)', () => {
  it('trains teacher, scratch, KD and the 3 % arms over 3 seeds, reproducibly, writes the table, and a rerun resumes every arm', async () => {
    const before = tf.memory().numTensors;
    const dir = freshDir();
    const first = await runHinton('small', dir);
    expect(tf.memory().numTensors).toBe(before);
    expect(first.rows.map((r) => r.arm)).toEqual([
      'teacher 784-96-96-10, dropout 0.5 + jitter 2 px',
      'student 784-32-32-10, scratch',
      'student 784-32-32-10, KD (T = 20)',
      'student, 3 % of the training set, hard labels',
      'student, 3 % of the training set, soft targets only (T = 20)',
    ]);
    for (const row of first.rows) {
      expect(row.errors).toHaveLength(3);
      for (const e of row.errors) expect(e).toBeGreaterThanOrEqual(0);
      // Trained: better than chance (90 % error) on 10 classes.
      expect(row.mean).toBeLessThan(90);
    }
    const saved = JSON.parse(readFileSync(join(dir, 'hinton.json'), 'utf8')) as { rows: { errors: number[] }[] };
    expect(saved.rows.map((r) => r.errors)).toEqual(first.rows.map((r) => r.errors));
    expect(readFileSync(join(dir, 'hinton.md'), 'utf8')).toContain('| student 784-32-32-10, KD (T = 20) |');

    // Seeded dropout, jitter and batches: a fresh folder gives the same errors, bit for bit.
    const again = await runHinton('small', freshDir());
    expect(again.rows.map((r) => r.errors)).toEqual(first.rows.map((r) => r.errors));

    // The same folder: every arm resumes from its finished checkpoint (no training), same errors.
    const resumed = await runHinton('small', dir);
    expect(resumed.rows.map((r) => r.errors)).toEqual(first.rows.map((r) => r.errors));
    expect(resumed.seconds).toBeLessThan(first.seconds);
    expect(tf.memory().numTensors).toBe(before);
  });
});
