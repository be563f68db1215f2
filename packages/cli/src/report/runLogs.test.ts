import { isDistillationError } from '@kd/core';
import { describe, expect, it } from 'vitest';
import { parseRunLogs } from './runLogs';

const epochEnd = (epoch: number, loss: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    type: 'epoch-end',
    epoch,
    epochs: 3,
    logs: { epoch, loss, terms: { ce: loss / 2, kd: loss / 4 }, learningRate: 0.1, weights: { kd: 1 }, seconds: 1 },
    ...extra,
  });

function badRun(text: string): Error {
  try {
    parseRunLogs(text, 'run/logs.jsonl');
  } catch (error) {
    expect(isDistillationError(error, 'bad-run')).toBe(true);
    return error as Error;
  }
  return expect.unreachable('expected a bad-run error');
}

describe('parseRunLogs', () => {
  it('keeps the epoch-end events, skips other events and blank lines, and lets the last line of an epoch win', () => {
    const text = [
      JSON.stringify({ type: 'fit-start', epochs: 3 }),
      epochEnd(0, 4),
      '',
      JSON.stringify({ type: 'step-end', epoch: 1, loss: 99 }),
      epochEnd(1, 30),
      epochEnd(2, 1),
      epochEnd(1, 2), // resumed run: epoch 1 again
    ].join('\n');
    const epochs = parseRunLogs(text, 'logs.jsonl');
    expect(epochs.map((e) => [e.epoch, e.runEpoch, e.loss])).toEqual([
      [0, 0, 4],
      [1, 1, 2],
      [2, 2, 1],
    ]);
    expect(epochs[1]!.terms).toEqual({ ce: 1, kd: 0.5 });
    expect(epochs[0]!.validation).toBeUndefined();
  });

  it('lays stages one after another on the run axis, each epoch keyed by its stage', () => {
    const text = [
      epochEnd(0, 5, { stage: 'hints' }),
      epochEnd(1, 4, { stage: 'hints' }),
      epochEnd(2, 3, { stage: 'hints' }),
      epochEnd(0, 2, { stage: 'kd' }),
      epochEnd(1, 1, { stage: 'kd' }),
    ].join('\n');
    const epochs = parseRunLogs(text, 'logs.jsonl');
    expect(epochs.map((e) => [e.stage, e.epoch, e.runEpoch])).toEqual([
      ['hints', 0, 0],
      ['hints', 1, 1],
      ['hints', 2, 2],
      ['kd', 0, 3],
      ['kd', 1, 4],
    ]);
  });

  it('reads validation metrics', () => {
    const [epoch] = parseRunLogs(
      JSON.stringify({
        type: 'epoch-end',
        epoch: 0,
        epochs: 1,
        logs: { epoch: 0, loss: 1, terms: {}, learningRate: 0.1, weights: {}, seconds: 2, validation: { accuracy: 0.75, loss: 0.5 } },
      }),
      'logs.jsonl',
    );
    expect(epoch!.validation).toEqual({ accuracy: 0.75, loss: 0.5 });
  });

  it('names the file and line of a line that is not JSON', () => {
    const error = badRun([epochEnd(0, 1), '{"type": "epoch-end", "epoch": 1,'].join('\n'));
    expect(error.message).toContain('run/logs.jsonl line 2');
    expect(error.message).toContain('not valid JSON');
  });

  it('names the line and field of an epoch-end event of the wrong shape, and a line that is not an event', () => {
    const wrong = JSON.stringify({
      type: 'epoch-end',
      epoch: 0,
      epochs: 1,
      logs: { loss: 'high', terms: {}, learningRate: 0, weights: {}, seconds: 1 },
    });
    const error = badRun([JSON.stringify({ type: 'fit-start' }), '', wrong].join('\n'));
    expect(error.message).toContain('run/logs.jsonl line 3: logs.loss');
    expect(badRun('[1, 2]').message).toContain('run/logs.jsonl line 1 is not a progress event');
  });
});
