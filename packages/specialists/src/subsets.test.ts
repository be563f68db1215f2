import { SeededRandom } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { leakedTensors } from '../test/helpers';
import { confusableSubsets, kMeans } from './subsets';

/**
 * Predictions of a generalist that confuses classes within groups: each example belongs to a
 * group, most of its mass is spread randomly over that group's classes.
 */
function groupedPredictions(groups: number[][], classes: number, n: number, seed: number): { probs: number[][]; labels: number[] } {
  const random = new SeededRandom(seed);
  const probs: number[][] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const group = groups[random.int(groups.length)]!;
    const label = group[random.int(group.length)]!;
    const row = Array.from({ length: classes }, () => 0.02 * random.next());
    for (const k of group) row[k]! += random.next() * (k === label ? 2 : 1);
    const sum = row.reduce((a, b) => a + b, 0);
    probs.push(row.map((v) => v / sum));
    labels.push(label);
  }
  return { probs, labels };
}

const GROUPS = [
  [0, 3, 6],
  [1, 4],
  [2, 5, 7, 8],
];

describe('confusableSubsets', () => {
  it('recovers the confusable groups from the covariance of the predictions (no labels)', async () => {
    const { probs } = groupedPredictions(GROUPS, 9, 3000, 1);
    const p = tf.tensor2d(probs);
    let subsets: number[][] = [];
    expect(
      await leakedTensors(() => {
        subsets = confusableSubsets(p, { clusters: 3, method: 'kmeans', seed: 4 });
      }),
    ).toBe(0);
    p.dispose();
    expect(subsets).toEqual([
      [0, 3, 6],
      [1, 4],
      [2, 5, 7, 8],
    ]);
    // Same seed, same answer; plain arrays work too.
    expect(confusableSubsets(probs, { clusters: 3, seed: 4 })).toEqual(subsets);
  });

  it('confusion-matrix variant (needs labels) finds the same groups', () => {
    const { probs, labels } = groupedPredictions(GROUPS, 9, 3000, 2);
    expect(confusableSubsets(probs, { clusters: 3, method: 'confusion', labels, seed: 1 })).toEqual(GROUPS);
    expect(() => confusableSubsets(probs, { clusters: 3, method: 'confusion' })).toThrow(/needs the true labels/);
  });

  it('several cluster counts give distinct, possibly overlapping subsets; size filters apply', () => {
    const { probs } = groupedPredictions(GROUPS, 9, 2000, 3);
    const subsets = confusableSubsets(probs, { clusters: [3, 2], seed: 2, minSize: 2 });
    expect(subsets.slice(0, 3)).toEqual(GROUPS);
    const keys = subsets.map((s) => s.join(','));
    expect(new Set(keys).size).toBe(keys.length);
    for (const s of subsets) {
      expect(s.length).toBeGreaterThanOrEqual(2);
      expect(s.length).toBeLessThanOrEqual(8);
      expect([...s].sort((a, b) => a - b)).toEqual(s);
    }
    expect(confusableSubsets(probs, { clusters: 3, seed: 2, minSize: 3 })).toEqual([
      [0, 3, 6],
      [2, 5, 7, 8],
    ]);
    expect(() => confusableSubsets(probs, { clusters: 10 })).toThrow(/option "clusters" must be an integer in \[1, 9\]/);
  });

  it('kMeans separates well-separated points and is deterministic per seed', () => {
    const pts = [
      [0, 0],
      [0.1, 0],
      [0, 0.1],
      [5, 5],
      [5.1, 5],
      [10, 0],
      [10, 0.2],
    ].map((p) => Float64Array.from(p));
    const a = kMeans(pts, 3, new SeededRandom(7));
    const b = kMeans(pts, 3, new SeededRandom(7));
    expect(Array.from(a.assignment)).toEqual(Array.from(b.assignment));
    const as = Array.from(a.assignment);
    expect(new Set(as.slice(0, 3)).size).toBe(1);
    expect(new Set(as.slice(3, 5)).size).toBe(1);
    expect(new Set(as.slice(5)).size).toBe(1);
    expect(new Set([as[0], as[3], as[5]]).size).toBe(3);
    expect(a.inertia).toBeCloseTo(0.04 / 3 + 0.005 + 0.02, 6);
  });
});
