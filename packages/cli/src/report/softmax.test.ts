import { describe, expect, it } from 'vitest';
import { argmax } from './argmax';
import { softmax } from './softmax';

describe('softmax', () => {
  it('gives exp(z) / sum exp(z) and does not overflow on large logits', () => {
    const p = softmax([Math.log(3), 0]);
    expect(p[0]).toBeCloseTo(0.75, 12);
    expect(p[1]).toBeCloseTo(0.25, 12);
    const big = softmax([1000, 1000, 1000 + Math.log(2)]);
    expect(big.map((v) => Number.isFinite(v))).toEqual([true, true, true]);
    expect(big[2]).toBeCloseTo(0.5, 12);
  });
});

describe('argmax', () => {
  it('returns the first index of the largest value, and -1 for an empty row', () => {
    expect(argmax([0.1, 0.7, 0.2])).toBe(1);
    expect(argmax([2, 5, 5])).toBe(1);
    expect(argmax([-3, -1, -2])).toBe(1);
    expect(argmax([])).toBe(-1);
  });
});
