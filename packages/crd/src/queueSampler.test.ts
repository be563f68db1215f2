import { SeededRandom } from '@kd/core';
import { describe, expect, it } from 'vitest';
import { queueNegatives } from './queueSampler';

describe('queueNegatives', () => {
  it('uses every entry in queue order when none holds an example of the batch, drawing nothing from the random source', () => {
    const ids = Int32Array.of(7, 8, -1, 9, 10);
    const random = new SeededRandom(3);
    const state = random.getState();
    const s = queueNegatives(ids, [0, 1, 2], random, 20);
    expect(s.kind).toBe('queue');
    expect(Array.from(s.negatives)).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from(s.index)).toEqual([0, 1, 2]);
    expect(s.replaced).toBe(0);
    expect(random.getState()).toEqual(state);
  });

  it("never gives a batch its own examples: over random queues and batches (repeated ids, initial entries), exactly the batch's entries are replaced, by other entries", () => {
    const random = new SeededRandom(11);
    const n = 40;
    let replacedTotal = 0;
    for (let trial = 0; trial < 300; trial++) {
      const k = 1 + random.int(24);
      // Ids as a queue holds them: the last K enqueued (repeats across epochs), some still -1.
      const ids = Int32Array.from({ length: k }, () => (random.next() < 0.15 ? -1 : random.int(n)));
      const b = 1 + random.int(12);
      const index = Array.from(random.permutation(n).subarray(0, b));
      const batch = new Set(index);
      const allowed = Array.from(ids.keys()).filter((j) => !batch.has(ids[j]!));
      if (allowed.length === 0) {
        expect(() => queueNegatives(ids, index, random, n)).toThrow(/none is left as a negative/);
        continue;
      }
      const s = queueNegatives(ids, index, random, n);
      expect(s.negatives.length).toBe(k);
      let replaced = 0;
      for (let j = 0; j < k; j++) {
        const position = s.negatives[j]!;
        expect(position).toBeGreaterThanOrEqual(0);
        expect(position).toBeLessThan(k);
        // The batch's own ids never appear among its negatives.
        expect(batch.has(ids[position]!), `trial ${trial}: entry ${position} holds ${ids[position]}, an example of the batch`).toBe(false);
        if (batch.has(ids[j]!)) replaced++;
        else expect(position).toBe(j); // entries of other examples stay where they are
      }
      expect(s.replaced).toBe(replaced);
      replacedTotal += replaced;
    }
    expect(replacedTotal).toBeGreaterThan(100); // the property was exercised
  });

  it('draws the replacements uniformly over the allowed entries, reproducibly for a seed', () => {
    // Entries 0..9; the batch holds the examples of entries 0 and 1; 8 allowed entries.
    const ids = Int32Array.from({ length: 10 }, (_, j) => 100 + j);
    const counts = new Array<number>(10).fill(0);
    const draws = 4000;
    for (let t = 0; t < draws; t++) {
      const s = queueNegatives(ids, [100, 101, 5], new SeededRandom(t));
      counts[s.negatives[0]!]! += 1;
      counts[s.negatives[1]!]! += 1;
    }
    expect(counts[0]).toBe(0);
    expect(counts[1]).toBe(0);
    const expected = (2 * draws) / 8;
    for (let j = 2; j < 10; j++) expect(Math.abs(counts[j]! - expected)).toBeLessThan(0.1 * expected);
    const again = (seed: number) => Array.from(queueNegatives(ids, [100, 101], new SeededRandom(seed)).negatives);
    expect(again(5)).toEqual(again(5));
  });
});
