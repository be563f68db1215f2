import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ENSEMBLE_SIZES, runEnsemble } from '../src/ensemble';
import { EXPERIMENTS } from '../src/experiments';
import { exampleBackend, freshDir, hasFashion } from './setup';

await exampleBackend();

describe.skipIf(!hasFashion)('ensemble (small size)', () => {
  it('trains 10 members and the distilled candidates over 3 seeds, reproducibly, chooses T on validation, and a rerun resumes every arm', async () => {
    expect(EXPERIMENTS.find((e) => e.name === 'ensemble')?.run).toBe(runEnsemble);
    const config = ENSEMBLE_SIZES.small;
    const before = tf.memory().numTensors;
    const dir = freshDir();
    const first = await runEnsemble('small', dir);
    expect(tf.memory().numTensors).toBe(before);
    expect(first.rows.map((r) => r.arm)).toEqual([
      'single 784-16-10 (mean of the 10 members)',
      'ensemble of 10, arithmetic mean of probabilities',
      'ensemble of 10, geometric mean (renormalised)',
      'distilled 784-16-10 from the arithmetic ensemble (T on validation)',
    ]);
    for (const row of first.rows) {
      expect(row.errors).toHaveLength(3);
      for (const e of row.errors) expect(e).toBeGreaterThanOrEqual(0);
      // Trained: better than chance (90 % error) on 10 classes.
      expect(row.mean).toBeLessThan(80);
    }
    expect(first.seeds.map((d) => d.seed)).toEqual([1, 2, 3]);
    for (const d of first.seeds) {
      expect(d.memberAccuracy).toHaveLength(10);
      // Members differ (different seeds), so the ensemble is not one model ten times.
      expect(new Set(d.memberAccuracy).size).toBeGreaterThan(1);
      expect(d.validationAccuracy).toHaveLength(config.temperatures.length);
      // The reported T is the grid's best on validation.
      expect(d.validationAccuracy[config.temperatures.indexOf(d.temperature)]).toBe(Math.max(...d.validationAccuracy));
    }
    // The single row is the mean of the members' errors.
    const memberMean = first.seeds.map((d) => 100 * (1 - d.memberAccuracy.reduce((a, b) => a + b, 0) / d.memberAccuracy.length));
    first.rows[0]!.errors.forEach((e, k) => expect(e).toBeCloseTo(memberMean[k]!, 6));
    const saved = JSON.parse(readFileSync(join(dir, 'ensemble.json'), 'utf8')) as { rows: { errors: number[] }[] };
    expect(saved.rows.map((r) => r.errors)).toEqual(first.rows.map((r) => r.errors));
    const markdown = readFileSync(join(dir, 'ensemble.md'), 'utf8');
    expect(markdown).toContain('| ensemble of 10, geometric mean (renormalised) |');
    expect(markdown).toContain('Chosen T per seed: 1: ');

    // Seeded initial weights and batches: a fresh folder gives the same errors, bit for bit.
    const again = await runEnsemble('small', freshDir());
    expect(again.rows.map((r) => r.errors)).toEqual(first.rows.map((r) => r.errors));
    expect(again.seeds).toEqual(first.seeds);

    // The same folder: every arm resumes from its finished checkpoint (no training), same errors.
    const resumed = await runEnsemble('small', dir);
    expect(resumed.rows.map((r) => r.errors)).toEqual(first.rows.map((r) => r.errors));
    expect(resumed.seeds).toEqual(first.seeds);
    expect(resumed.seconds).toBeLessThan(first.seconds);
    expect(tf.memory().numTensors).toBe(before);
  });
});
