import { isDistillationError } from '@kd/core';
import { describe, expect, it } from 'vitest';
import { parseRunPredictions } from './runPredictions';

function badRun(value: unknown): string {
  try {
    parseRunPredictions(typeof value === 'string' ? value : JSON.stringify(value), 'run/predictions.json');
  } catch (error) {
    expect(isDistillationError(error, 'bad-run')).toBe(true);
    return (error as Error).message;
  }
  return expect.unreachable('expected a bad-run error');
}

const valid = {
  classes: 3,
  labels: [0, 2],
  student: [
    [1, 0, 0],
    [0, 0, 1],
  ],
};

describe('parseRunPredictions', () => {
  it('reads labels and logits, with or without teacher and class names', () => {
    expect(parseRunPredictions(JSON.stringify(valid), 'p.json')).toEqual(valid);
    const full = {
      ...valid,
      classNames: ['a', 'b', 'c'],
      teacher: [
        [2, 0, 0],
        [0, 1, 3],
      ],
    };
    expect(parseRunPredictions(JSON.stringify(full), 'p.json')).toEqual(full);
  });

  it('rejects logits and labels that do not fit the class count, naming the file and the field', () => {
    expect(badRun({ ...valid, student: [[1, 0, 0]] })).toContain('run/predictions.json: student has 1 rows of logits for 2 labels');
    expect(
      badRun({
        ...valid,
        student: [
          [1, 0, 0],
          [0, 1],
        ],
      }),
    ).toContain('student[1] has 2 logits, expected 3');
    expect(
      badRun({
        ...valid,
        teacher: [
          [1, 0, 0],
          [0, 1, 0, 0],
        ],
      }),
    ).toContain('teacher[1] has 4 logits');
    expect(badRun({ ...valid, labels: [0, 3] })).toContain('labels[1] is 3, not a class of 0..2');
    expect(badRun({ ...valid, classNames: ['a'] })).toContain('classNames has 1 names for 3 classes');
    expect(badRun({ ...valid, labels: [] })).toContain('labels');
    expect(
      badRun({
        ...valid,
        student: [
          [1, 0, 'x'],
          [0, 0, 1],
        ],
      }),
    ).toContain('run/predictions.json: student[0][2]');
  });

  it('names the line and column of a JSON syntax error', () => {
    expect(badRun('{\n  "classes": 3,\n  "labels": [0, 2,]\n}')).toMatch(/run\/predictions\.json(?: line 3 column \d+)? is not valid JSON/);
    // Truncated input: the end of line 3 ('  "labels": [0' is 14 characters).
    expect(badRun('{\n  "classes": 3,\n  "labels": [0')).toContain('run/predictions.json line 3 column 15 is not valid JSON');
  });
});
