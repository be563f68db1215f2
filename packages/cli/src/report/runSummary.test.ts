import { isDistillationError } from '@kd/core';
import { describe, expect, it } from 'vitest';
import { parseRunSummary } from './runSummary';

const minimal = { backend: 'cpu', wallSeconds: 12, student: { accuracy: 0.9, loss: 0.3 } };

describe('parseRunSummary', () => {
  it('reads the required fields and the optional ones, ignoring fields it does not use', () => {
    expect(parseRunSummary(JSON.stringify({ ...minimal, seed: 3 }), 's.json')).toEqual(minimal);
    const full = {
      ...minimal,
      teacher: { accuracy: 0.95, loss: 0.2 },
      best: { epoch: 4, metric: 'validation.accuracy', value: 0.91 },
      exports: [{ form: 'uint8', bytes: 1000, accuracy: 0.89, latencyMs: 0.5 }],
    };
    expect(parseRunSummary(JSON.stringify(full), 's.json')).toEqual(full);
  });

  it('reads unmeasured metrics (NaN, written as null) and the fields kd train adds', () => {
    const written = {
      ...minimal,
      name: 'run-a',
      evaluatedOn: 'validation',
      student: { accuracy: null, loss: null },
      stoppedEarly: { stage: 'kd', epoch: 3 },
      exports: [{ form: 'float16', bytes: 10, accuracy: null }],
    };
    expect(parseRunSummary(JSON.stringify(written), 's.json')).toEqual(written);
  });

  it('is bad-run naming the file and the field of a wrong value', () => {
    const cases: [unknown, string][] = [
      [{ ...minimal, backend: undefined }, 'run/summary.json: backend'],
      [{ ...minimal, student: { accuracy: 1.5, loss: 0 } }, 'run/summary.json: student.accuracy'],
      [{ ...minimal, exports: [{ form: 'int4', bytes: 1, accuracy: 0.5 }] }, 'run/summary.json: exports[0].form'],
    ];
    for (const [value, message] of cases) {
      let error: unknown;
      try {
        parseRunSummary(JSON.stringify(value), 'run/summary.json');
      } catch (e) {
        error = e;
      }
      expect(isDistillationError(error, 'bad-run')).toBe(true);
      expect((error as Error).message).toContain(message);
    }
  });
});
