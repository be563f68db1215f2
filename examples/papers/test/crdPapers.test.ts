import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { classCorrelationDifference, classCorrelationMatrix } from '@kd/cli';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { runCorrelation } from '../src/correlation';
import { runCrdEnsemble } from '../src/crdEnsemble';
import { runCrossModal } from '../src/crossModal';
import { exampleBackend, freshDir, hasFashion } from './setup';

await exampleBackend();

describe('class correlation', () => {
  it('is Pearson per column pair, symmetric with ones on the diagonal; the difference of a matrix with itself is 0', () => {
    // Column 1 = 2 * column 0 (r = 1), column 2 = -column 0 (r = -1), column 3 constant (r = 0).
    const logits = [0, 1, 2, 5].map((v) => [v, 2 * v + 1, -v, 3]);
    const c = classCorrelationMatrix(logits);
    expect(c[0]![1]).toBeCloseTo(1, 12);
    expect(c[1]![2]).toBeCloseTo(-1, 12);
    expect(c[2]![0]).toBeCloseTo(-1, 12);
    expect(c[3]![0]).toBe(0);
    expect(c.map((r, i) => r[i])).toEqual([1, 1, 1, 1]);
    expect(classCorrelationDifference(logits, logits).meanAbsoluteDifference).toBe(0);
    // Against independent columns: off-diagonal |Δ| is 1 for the 6 correlated ordered pairs of {0,1,2}, 0 elsewhere.
    const other = [
      [1, 0, 0, 3],
      [0, 1, 0, 3],
      [-1, 0, 1, 3],
      [0, -1, -1, 3],
    ];
    const d = classCorrelationDifference(logits, other);
    expect(d.difference[0]![0]).toBe(0);
    expect(d.meanAbsoluteDifference).toBeGreaterThan(0);
    expect(d.meanAbsoluteDifference).toBeLessThanOrEqual(2);
  });
});

describe.skipIf(!hasFashion)('CRD-EN, the correlation figure and cross-modal CRD (small size)', () => {
  it('CRD-EN: trains the teachers and six students over 3 seeds, writes the table, a rerun resumes to the same numbers; the figure reuses its students', async () => {
    const before = tf.memory().numTensors;
    const dir = freshDir();
    const first = await runCrdEnsemble('small', dir);
    expect(tf.memory().numTensors).toBe(before);
    expect(first.rows.map((r) => r.arm)).toEqual([
      'teacher 784-48-10, one of 2 (mean of the 2)',
      'best single teacher (by validation accuracy)',
      'ensemble of the 2 teachers (mean of probabilities)',
      'student 784-32-10, scratch (hard labels)',
      'student 784-32-10, KD from the best teacher (T = 4)',
      'student 784-32-10, KD from the ensemble (T = 4)',
      'student 784-32-10, CRD from the best teacher (1 ce + 0.8 crd)',
      'student 784-32-10, CRD-EN from the 2 teachers (1 ce + 2 x 0.4 crd)',
      'student 784-32-10, CRD-EN, the terms summed (1 ce + 2 x 0.8 crd)',
    ]);
    for (const r of first.rows) {
      expect(r.errors).toHaveLength(3);
      for (const e of r.errors) expect(e).toBeGreaterThanOrEqual(0);
      expect(r.mean).toBeLessThan(90); // better than chance on 10 classes
    }
    expect(first.bestTeachers).toHaveLength(3);
    for (const b of first.bestTeachers) expect([0, 1]).toContain(b);
    const saved = JSON.parse(readFileSync(join(dir, 'crd-ensemble.json'), 'utf8')) as { rows: { errors: number[] }[] };
    expect(saved.rows.map((r) => r.errors)).toEqual(first.rows.map((r) => r.errors));
    expect(readFileSync(join(dir, 'crd-ensemble.md'), 'utf8')).toContain('CRD-EN from the 2 teachers');

    // The same folder: every arm resumes from its finished checkpoint (no training), same errors.
    const resumed = await runCrdEnsemble('small', dir);
    expect(resumed.rows.map((r) => r.errors)).toEqual(first.rows.map((r) => r.errors));
    expect(resumed.seconds).toBeLessThan(first.seconds);

    // The figure: restores the scratch, KD and CRD students of that folder (no training).
    const figureDir = freshDir();
    const figure = await runCorrelation('small', figureDir, { studentsDir: dir });
    expect(figure.rows.map((r) => r.arm)).toEqual(['student without distillation', 'KD', 'CRD']);
    for (const r of figure.rows) {
      expect(r.values).toHaveLength(3);
      for (const v of r.values) {
        expect(v).toBeGreaterThan(0);
        expect(v).toBeLessThan(2);
      }
    }
    expect(figure.seconds).toBeLessThan(first.seconds);
    expect(figure.svg).toMatch(/^<svg/);
    expect(figure.svg).toContain('CRD: mean |Δ|');
    expect(existsSync(join(figureDir, 'correlation.svg'))).toBe(true);
    expect(readFileSync(join(figureDir, 'correlation.md'), 'utf8')).toContain('| KD |');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('cross-modal: a full-image teacher, students on 7x7 views (scratch, KD, CRD, KD+CRD), resumably', async () => {
    const before = tf.memory().numTensors;
    const dir = freshDir();
    const first = await runCrossModal('small', dir);
    expect(tf.memory().numTensors).toBe(before);
    expect(first.rows.map((r) => r.arm)).toEqual([
      'teacher 784-48-10 on full images',
      'the same teacher on the 7x7 test views (upsampled back, no training)',
      'student 7x7-32-10 on 7x7 views, scratch',
      'student on 7x7 views, KD from the full-image teacher (T = 4)',
      'student on 7x7 views, CRD (1 ce + 0.8 crd)',
      'student on 7x7 views, KD + CRD (1 ce + 1 kd + 0.8 crd)',
    ]);
    for (const r of first.rows) {
      expect(r.errors).toHaveLength(3);
      for (const e of r.errors) expect(e).toBeGreaterThanOrEqual(0);
    }
    // The teacher and the view students learned something (better than chance).
    for (const r of [first.rows[0]!, ...first.rows.slice(2)]) expect(r.mean).toBeLessThan(90);
    // The same folder resumes every arm to the same errors.
    const resumed = await runCrossModal('small', dir);
    expect(resumed.rows.map((r) => r.errors)).toEqual(first.rows.map((r) => r.errors));
    expect(resumed.seconds).toBeLessThan(first.seconds);
    expect(tf.memory().numTensors).toBe(before);
  });
});
