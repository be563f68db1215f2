import { SeededRandom } from '@kd/core';
import { describe, expect, it } from 'vitest';
import { NegativeSampler } from './sampler';

const N = 60;
const labels = Int32Array.from({ length: N }, (_, i) => i % 4);

describe('NegativeSampler', () => {
  it('reference: positive first, K distinct negatives from other classes (exact mode)', () => {
    const sampler = new NegativeSampler({ dataSize: N, negatives: 30, labels });
    const index = [0, 5, 13, 59];
    const s = sampler.sample(index, new SeededRandom(1));
    expect(s.contrast.length).toBe(index.length * 31);
    index.forEach((id, b) => {
      const row = Array.from(s.contrast.subarray(b * 31, (b + 1) * 31));
      expect(row[0]).toBe(id);
      const negs = row.slice(1);
      expect(new Set(negs).size).toBe(30);
      for (const n of negs) expect(labels[n]).not.toBe(labels[id]);
    });
  });

  it('samples with replacement only when a class has fewer than K negatives (as the reference)', () => {
    const sampler = new NegativeSampler({ dataSize: N, negatives: 50, labels });
    const s = sampler.sample([0], new SeededRandom(2));
    const negs = Array.from(s.contrast.subarray(1));
    expect(negs.length).toBe(50);
    for (const n of negs) expect(labels[n]).not.toBe(0);
    expect(new Set(negs).size).toBeLessThanOrEqual(45);
  });

  it('relax mode: the positive is a same-class example', () => {
    const sampler = new NegativeSampler({ dataSize: N, negatives: 8, labels, positive: 'relax' });
    const s = sampler.sample([1, 2, 3, 4, 5, 6, 7, 8], new SeededRandom(3));
    let moved = 0;
    for (let b = 0; b < 8; b++) {
      const pos = s.contrast[b * 9]!;
      expect(labels[pos]).toBe(labels[s.index[b]!]);
      if (pos !== s.index[b]) moved++;
    }
    expect(moved).toBeGreaterThan(0);
  });

  it('without labels: uniform over the other N-1 examples, without replacement', () => {
    const sampler = new NegativeSampler({ dataSize: N, negatives: 59 });
    expect(sampler.classAware).toBe(false);
    const s = sampler.sample([7], new SeededRandom(4));
    const negs = Array.from(s.contrast.subarray(1)).sort((a, b) => a - b);
    expect(negs).toEqual(Array.from({ length: N }, (_, i) => i).filter((i) => i !== 7));
  });

  it('is reproducible from the seed', () => {
    const a = new NegativeSampler({ dataSize: N, negatives: 20, labels }).sample([1, 2], new SeededRandom(9));
    const b = new NegativeSampler({ dataSize: N, negatives: 20, labels }).sample([1, 2], new SeededRandom(9));
    expect(Array.from(a.contrast)).toEqual(Array.from(b.contrast));
  });

  it('shared variant: one set of K distinct negatives outside the batch', () => {
    const sampler = new NegativeSampler({ dataSize: N, negatives: 40, labels });
    const index = [3, 4, 5, 6];
    const s = sampler.sampleShared(index, new SeededRandom(5));
    expect(Array.from(s.positives)).toEqual(index);
    expect(s.shared.length).toBe(40);
    expect(new Set(s.shared).size).toBe(40);
    for (const n of s.shared) expect(index).not.toContain(n);
  });

  it('errors: K >= N, index >= N, missing indices, relax without labels, single class', () => {
    expect(() => new NegativeSampler({ dataSize: N, negatives: N })).toThrow(/smaller than the number of training examples/);
    const sampler = new NegativeSampler({ dataSize: N, negatives: 4, labels });
    expect(() => sampler.sample([1, N], new SeededRandom(0))).toThrow(/outside \[0, 60\)/);
    expect(() => sampler.sample([-1], new SeededRandom(0))).toThrow(/index-out-of-range|outside/);
    expect(() => sampler.sample(undefined as unknown as number[], new SeededRandom(0))).toThrow(/sample index/);
    expect(() => new NegativeSampler({ dataSize: N, negatives: 4, positive: 'relax' })).toThrow(/needs the training labels/);
    expect(() => new NegativeSampler({ dataSize: N, negatives: 4, labels: new Int32Array(N) })).toThrow(/same label/);
  });
});
