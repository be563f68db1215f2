import type { ProgressEvent } from '@kd/core';
import { describe, expect, it } from 'vitest';
import { jsonProgress, terminalProgress } from './terminalProgress';

const sink = () => {
  const out: string[] = [];
  return { out, write: (text: string) => out.push(text), isTTY: true };
};
const logs = (epoch: number) => ({
  epoch,
  loss: 0.5,
  terms: { ce: 0.25, kd: 1.5 },
  learningRate: 0.01,
  weights: {},
  seconds: 2,
  validation: { accuracy: 0.9123, loss: 0.3 },
});

describe('terminalProgress', () => {
  it('redraws one line per step with the epoch bar, the whole stage and its ETA, and the terms; keeps one line per epoch', () => {
    const s = sink();
    const bar = terminalProgress(s, 10);
    const events: ProgressEvent[] = [
      { type: 'fit-start', epochs: 2, startEpoch: 0, stepsPerEpoch: 4, description: '' },
      { type: 'epoch-start', epoch: 0, epochs: 2 },
      {
        type: 'step-end',
        epoch: 0,
        epochs: 2,
        step: 1,
        stepInEpoch: 1,
        stepsPerEpoch: 4,
        loss: 0.75,
        terms: { ce: 0.5, kd: 1 },
        learningRate: 0.01,
      },
      { type: 'epoch-end', epoch: 0, epochs: 2, logs: logs(0) },
    ];
    for (const e of events) bar(e, 'distil');
    expect(s.out[0]!.startsWith('\r\x1b[2K')).toBe(true);
    expect(s.out[0]!.slice(5)).toMatch(
      /^distil epoch 1\/2 \[#####\.\.\.\.\.\] 2\/4 \| all 25% eta \d+s \| loss 0\.750 \(ce 0\.500 kd 1\.00\)$/,
    );
    expect(s.out[1]).toBe('\r\x1b[2Kdistil epoch 1/2 loss 0.500 (ce 0.250 kd 1.50) | val acc 91.23% loss 0.300 2.0s\n');
  });

  it('jsonProgress writes each event as a JSON line with its stage', () => {
    const s = sink();
    jsonProgress(s)({ type: 'epoch-start', epoch: 3, epochs: 5 }, 'hints');
    expect(JSON.parse(s.out[0]!)).toEqual({ stage: 'hints', type: 'epoch-start', epoch: 3, epochs: 5 });
    expect(s.out[0]!.endsWith('\n')).toBe(true);
  });
});
