import { SeededRandom } from '@kd/core';
import { describe, expect, it } from 'vitest';
import { classCorrelationDifference, classCorrelationMatrix } from './classCorrelation';

/** Pearson correlation of two columns, written out from the definition. */
function pearson(x: readonly number[], y: readonly number[]): number {
  const mx = x.reduce((a, b) => a + b, 0) / x.length;
  const my = y.reduce((a, b) => a + b, 0) / y.length;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

describe('classCorrelationMatrix', () => {
  it('gives 1 for columns that rise together and -1 for columns that move oppositely', () => {
    const together = classCorrelationMatrix([
      [1, 2],
      [2, 4],
      [3, 6],
    ]);
    expect(together[0]![0]).toBe(1);
    expect(together[0]![1]).toBeCloseTo(1, 12);
    expect(together[1]![0]).toBeCloseTo(1, 12);
    const opposite = classCorrelationMatrix([
      [1, 3],
      [2, 2],
      [3, 1],
    ]);
    expect(opposite[0]![1]).toBeCloseTo(-1, 12);
    expect(opposite[1]![0]).toBeCloseTo(-1, 12);
  });

  it('matches a hand-computed case (r = 4 / sqrt(5 * 5) = 0.8) and gives 0 for a constant column', () => {
    // x = 1,2,3,4 and y = 1,3,2,4: deviations (-1.5,-0.5,0.5,1.5) and (-1.5,0.5,-0.5,1.5),
    // covariance sum 2.25 - 0.25 - 0.25 + 2.25 = 4, squares 5 each.
    const m = classCorrelationMatrix([
      [1, 1, 7],
      [2, 3, 7],
      [3, 2, 7],
      [4, 4, 7],
    ]);
    expect(m[0]![1]).toBeCloseTo(0.8, 12);
    expect(m[1]![0]).toBeCloseTo(0.8, 12);
    expect(m[0]![2]).toBe(0);
    expect(m[2]![1]).toBe(0);
    expect(m.map((row, i) => row[i])).toEqual([1, 1, 1]);
  });

  it('agrees with the Pearson formula on random logits', () => {
    const random = new SeededRandom(3);
    const logits = Array.from({ length: 50 }, () => Array.from({ length: 4 }, () => random.next() * 6 - 3));
    const m = classCorrelationMatrix(logits);
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 4; j++) {
        const expected =
          i === j
            ? 1
            : pearson(
                logits.map((r) => r[i]!),
                logits.map((r) => r[j]!),
              );
        expect(m[i]![j]).toBeCloseTo(expected, 12);
      }
    }
  });
});

describe('classCorrelationDifference', () => {
  it('is teacher minus student with the mean |difference| over the off-diagonal entries (2 x 2 case)', () => {
    const teacher = [
      [1, 1],
      [2, 3],
      [3, 2],
      [4, 4],
    ]; // r = 0.8
    const student = [
      [1, 3],
      [2, 2],
      [3, 1],
    ]; // r = -1
    const { difference, meanAbsoluteDifference } = classCorrelationDifference(teacher, student);
    expect(difference[0]![0]).toBe(0);
    expect(difference[1]![1]).toBe(0);
    expect(difference[0]![1]).toBeCloseTo(1.8, 12);
    expect(difference[1]![0]).toBeCloseTo(1.8, 12);
    expect(meanAbsoluteDifference).toBeCloseTo(1.8, 12);
  });

  it('is zero for identical logits and averages the off-diagonal entries of a 3-class case', () => {
    const logits = [
      [1, 1, 7],
      [2, 3, 7],
      [3, 2, 7],
      [4, 4, 7],
    ];
    expect(classCorrelationDifference(logits, logits).meanAbsoluteDifference).toBe(0);
    // Teacher: r01 = 0.8, r02 = r12 = 0 (constant column). Student: r01 = 1, r02 = -1, r12 = -1.
    const student = [
      [1, 1, 4],
      [2, 2, 3],
      [3, 3, 2],
      [4, 4, 1],
    ];
    const { meanAbsoluteDifference } = classCorrelationDifference(logits, student);
    expect(meanAbsoluteDifference).toBeCloseTo((2 * 0.2 + 2 * 1 + 2 * 1) / 6, 12);
  });
});
