import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { disposeData, mlp, toyData } from '../test/helpers';
import { Distiller } from './distiller';
import { hardLabel } from './plugins/hardLabel';
import { constantRate, cosineDecay, linearWarmup, stepDecay } from './schedules';

const at = (step: number, epoch = 0, totalSteps = 100) => ({ step, epoch, stepsPerEpoch: 10, totalSteps });

describe('learning-rate schedules', () => {
  it('step decay multiplies by the factor at and after each boundary epoch', () => {
    const s = stepDecay({ initial: 0.1, boundaries: [3, 6], factor: 0.1 });
    expect([0, 2, 3, 5, 6, 9].map((e) => s(at(0, e)))).toEqual([0.1, 0.1, 0.1 * 0.1, 0.1 * 0.1, 0.1 * 0.1 * 0.1, 0.1 * 0.1 * 0.1]);
    expect(() => stepDecay({ initial: 0.1, boundaries: [5, 2] })).toThrow(/ascending/);
  });

  it('cosine decay goes from initial to final over the run', () => {
    const s = cosineDecay({ initial: 1, final: 0.1 });
    expect(s(at(0))).toBeCloseTo(1, 12);
    expect(s(at(99))).toBeCloseTo(0.1, 12);
    expect(s(at(49.5))).toBeCloseTo(0.55, 12);
  });

  it('linear warm-up ramps to the wrapped schedule', () => {
    const s = linearWarmup(constantRate(0.2), 4);
    const expected = [0.05, 0.1, 0.15, 0.2, 0.2, 0.2];
    [0, 1, 2, 3, 4, 50].forEach((k, i) => expect(s(at(k))).toBeCloseTo(expected[i]!, 12));
  });

  it('is applied to the optimizer before every step', async () => {
    const data = toyData(20, 4, 3, 1);
    const rates: number[] = [];
    const optimizer = tf.train.momentum(1, 0.9);
    await new Distiller({ student: mlp(4, 5, 3, 1), optimizer }).use(hardLabel()).fit(data, {
      epochs: 3,
      batchSize: 10,
      learningRate: stepDecay({ initial: 0.2, boundaries: [1, 2], factor: 0.5 }),
      onEvent: (e) => void (e.type === 'step-end' && rates.push(e.learningRate)),
    });
    expect(rates).toEqual([0.2, 0.2, 0.1, 0.1, 0.05, 0.05]);
    expect((optimizer as unknown as { learningRate: number }).learningRate).toBe(0.05);
    disposeData(data);
  });

  it('stops at maxSteps mid-epoch, logs the partial epoch and sizes schedules to it', async () => {
    const data = toyData(40, 4, 3, 2);
    const totals: number[] = [];
    const steps: number[] = [];
    const history = await new Distiller({ student: mlp(4, 5, 3, 2), optimizer: tf.train.sgd(0.1) }).use(hardLabel()).fit(data, {
      epochs: 10,
      batchSize: 10,
      maxSteps: 6,
      learningRate: (p) => {
        totals.push(p.totalSteps);
        return 0.1;
      },
      onEvent: (e) => void (e.type === 'step-end' && steps.push(e.step)),
    });
    expect(steps).toEqual([0, 1, 2, 3, 4, 5]);
    expect(history.epochs.map((e) => e.epoch)).toEqual([0, 1]);
    expect(new Set(totals)).toEqual(new Set([6]));
    expect(Number.isFinite(history.epochs[1]!.loss)).toBe(true);
    await expect(
      new Distiller({ student: mlp(4, 5, 3, 2), optimizer: tf.train.sgd(0.1) }).use(hardLabel()).fit(data, { epochs: 1, maxSteps: 0 }),
    ).rejects.toThrow(/option "maxSteps" must be > 0, got 0|option "maxSteps" must be an integer/);
    disposeData(data);
  });
});
