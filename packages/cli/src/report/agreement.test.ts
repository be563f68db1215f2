import { describe, expect, it } from 'vitest';
import { topOneAgreement } from './agreement';

describe('topOneAgreement', () => {
  it('counts the examples where the top-1 classes match, overall and per true class', () => {
    // Top-1 teacher: 0, 1, 2, 2; student: 0, 2, 2, 0. Agree on examples 0 and 2.
    const teacher = [
      [3, 1, 0],
      [0, 5, 1],
      [0, 1, 9],
      [1, 2, 3],
    ];
    const student = [
      [2, 1, 0],
      [0, 1, 2],
      [1, 0, 4],
      [4, 0, 0],
    ];
    const labels = [0, 1, 2, 2];
    const { overall, perClass } = topOneAgreement(teacher, student, labels, 4);
    expect(overall).toBe(0.5);
    expect(perClass).toEqual([
      { classIndex: 0, count: 1, rate: 1 },
      { classIndex: 1, count: 1, rate: 0 },
      { classIndex: 2, count: 2, rate: 0.5 },
      { classIndex: 3, count: 0, rate: null },
    ]);
  });

  it('counts agreement on wrong predictions too (it compares the models, not the labels)', () => {
    const both = [[0, 1]];
    expect(topOneAgreement(both, both, [0], 2).overall).toBe(1);
    expect(topOneAgreement([], [], [], 2).overall).toBe(0);
  });
});
