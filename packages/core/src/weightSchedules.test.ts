import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { disposeData, mlp, toyData } from '../test/helpers';
import { Distiller } from './distiller';
import { isDistillationError } from './errors';
import type { EpochLogs } from './events';
import { definePlugin } from './plugin';
import { hardLabel } from './plugins/hardLabel';
import { softTargets } from './plugins/softTargets';
import { checkWeight, cosineWeight, describeWeighted, linearWarmupWeight, stepWeight, weightAt } from './weightSchedules';

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (error) {
    return isDistillationError(error) ? error.code : `not a DistillationError: ${error}`;
  }
  return undefined;
};

describe('weight schedules', () => {
  it('linear warm-up reaches its value after `epochs` epochs (zero-based epoch e: (e + 1) / epochs)', () => {
    const w = linearWarmupWeight({ value: 2, epochs: 4 });
    expect([0, 1, 2, 3, 4, 40].map((e) => weightAt(w, e))).toEqual([0.5, 1, 1.5, 2, 2, 2]);
  });

  it('step weight multiplies by the factor at and after each boundary', () => {
    const w = stepWeight({ value: 8, boundaries: [2, 5], factor: 0.5 });
    expect([0, 1, 2, 4, 5, 9].map((e) => weightAt(w, e))).toEqual([8, 8, 4, 4, 2, 2]);
    expect(weightAt(stepWeight({ value: 1, boundaries: [1] }), 1)).toBeCloseTo(0.1, 15);
  });

  it('cosine weight anneals from value to final over `epochs`, then stays at final', () => {
    const w = cosineWeight({ value: 1, final: 0.2, epochs: 4 });
    expect(weightAt(w, 0)).toBe(1);
    expect(weightAt(w, 2)).toBeCloseTo(0.6, 14);
    expect(weightAt(w, 1)).toBeCloseTo(0.2 + (0.8 * (1 + Math.cos(Math.PI / 4))) / 2, 14);
    expect(weightAt(w, 4)).toBeCloseTo(0.2, 14);
    expect(weightAt(w, 9)).toBeCloseTo(0.2, 14);
  });

  it('schedules are plain JSON that round-trips through JSON.stringify', () => {
    for (const w of [
      linearWarmupWeight({ value: 1, epochs: 20 }),
      stepWeight({ value: 1, boundaries: [3] }),
      cosineWeight({ value: 3, epochs: 5 }),
    ]) {
      expect(checkWeight(JSON.parse(JSON.stringify(w)), 'p')).toEqual(w);
    }
  });

  it('refuses bad schedules with specific codes before any training', () => {
    expect(codeOf(() => linearWarmupWeight({ value: 1, epochs: 0 }))).toBe('bad-option');
    expect(codeOf(() => linearWarmupWeight({ value: -1, epochs: 3 }))).toBe('bad-option');
    expect(codeOf(() => linearWarmupWeight({ value: Number.NaN, epochs: 3 }))).toBe('bad-option');
    expect(codeOf(() => linearWarmupWeight({ value: 1, epochs: 3, warmup: 2 } as never))).toBe('unknown-option');
    expect(codeOf(() => stepWeight({ value: 1, boundaries: [4, 2] }))).toBe('bad-option');
    expect(codeOf(() => cosineWeight({ value: 1, epochs: 2.5 }))).toBe('bad-option');
    expect(codeOf(() => checkWeight({ kind: 'exponential', value: 1 }, 'dkd'))).toBe('bad-plugin');
    expect(() => checkWeight({ kind: 'linear-warmup', value: 1 }, 'dkd')).toThrow(
      /Plugin "dkd": weight is not a valid "linear-warmup" schedule/,
    );
    expect(codeOf(() => checkWeight('1', 'dkd'))).toBe('bad-plugin');
    expect(codeOf(() => checkWeight(-0.5, 'dkd'))).toBe('bad-plugin');
    // Through a plugin's own option schema, and through use() for a hand-written plugin.
    expect(codeOf(() => hardLabel({ weight: { kind: 'linear-warmup', value: 1, epochs: -2 } as never }))).toBe('bad-option');
    const distiller = new Distiller({ student: mlp(4, 5, 3, 1), optimizer: tf.train.sgd(0.1) });
    const plugin = definePlugin({ name: 'p', weight: { kind: 'cosine', value: 1 } as never, loss: () => tf.scalar(0) });
    expect(codeOf(() => distiller.use(plugin))).toBe('bad-plugin');
  });

  it("plugins' option schemas apply the builders' defaults to plain-JSON schedules", () => {
    expect(hardLabel({ weight: { kind: 'cosine', value: 1, epochs: 4 } as never }).weight).toEqual(cosineWeight({ value: 1, epochs: 4 }));
    expect(softTargets({ weight: { kind: 'step', value: 2, boundaries: [3] } as never }).weight).toEqual(
      stepWeight({ value: 2, boundaries: [3] }),
    );
  });

  it('a changing weight keeps one scalar per plugin, not one per value', async () => {
    const data = toyData(20, 4, 3, 3);
    const distiller = new Distiller({ student: mlp(4, 5, 3, 1), optimizer: tf.train.sgd(0.1), seed: 1 }).use(
      hardLabel({ weight: cosineWeight({ value: 2, final: 0.5, epochs: 6 }) }),
    );
    await distiller.fit(data, { epochs: 1, batchSize: 10 });
    const after1 = tf.memory().numTensors;
    await distiller.fit(data, { epochs: 6, batchSize: 10 });
    expect(tf.memory().numTensors).toBe(after1);
    distiller.dispose();
    disposeData(data);
  });

  it('describe() prints the schedule inside the label', () => {
    expect(describeWeighted(linearWarmupWeight({ value: 1, epochs: 20 }), 'dkd(T=4)')).toBe('1*dkd(T=4, warm-up 20 epochs)');
    expect(describeWeighted(stepWeight({ value: 2, boundaries: [3, 6] }), 'ce')).toBe('2*ce(x0.1 at epochs 3, 6)');
    expect(describeWeighted(cosineWeight({ value: 1, epochs: 5 }), 'kd(T=2)')).toBe('1*kd(T=2, cosine to 0 over 5 epochs)');
    const distiller = new Distiller({ student: mlp(4, 5, 3, 1), optimizer: tf.train.sgd(0.1), teacher: mlp(4, 6, 3, 2) })
      .use(hardLabel({ weight: 0.1 }))
      .use(softTargets({ temperature: 4, weight: linearWarmupWeight({ value: 0.9, epochs: 3 }) }));
    expect(distiller.describe()).toBe('Loss = 0.1*ce + 0.9*kd(T=4, warm-up 3 epochs)');
    expect(distiller.metadata().plugins).toEqual([
      { name: 'ce', label: 'ce', weight: 0.1 },
      { name: 'kd', label: 'kd(T=4)', weight: { kind: 'linear-warmup', value: 0.9, epochs: 3 } },
    ]);
  });

  it('the Distiller weights each epoch by the schedule and records the weight in the epoch logs', async () => {
    const data = toyData(20, 4, 3, 3);
    const seen: number[][] = [];
    const term = (value: number) => definePlugin({ name: `c${value}`, loss: () => tf.scalar(value) });
    const distiller = new Distiller({ student: mlp(4, 5, 3, 1), optimizer: tf.train.sgd(0.1), seed: 1 })
      .use(hardLabel({ weight: stepWeight({ value: 1, boundaries: [1], factor: 0.5 }) }))
      .use({ ...term(2), weight: linearWarmupWeight({ value: 3, epochs: 3 }) })
      .use({ ...term(5), weight: 0.25 });
    const before = tf.memory().numTensors;
    const logs: EpochLogs[] = [];
    const history = await distiller.fit(data, {
      epochs: 4,
      batchSize: 10,
      onEvent: (e) => {
        if (e.type === 'step-end') seen.push([e.loss, e.terms.ce!]);
        if (e.type === 'epoch-end') logs.push(e.logs);
      },
    });
    expect(history.epochs.map((e) => e.weights)).toEqual([
      { ce: 1, c2: 1, c5: 0.25 },
      { ce: 0.5, c2: 2, c5: 0.25 },
      { ce: 0.5, c2: 3, c5: 0.25 },
      { ce: 0.5, c2: 3, c5: 0.25 },
    ]);
    // The total of every step is the weighted sum with that epoch's weights (float32 sums).
    const weightsOfStep = (s: number) => history.epochs[Math.floor(s / 2)]!.weights;
    seen.forEach(([loss, ce], s) => {
      const w = weightsOfStep(s);
      expect(loss).toBeCloseTo(w.ce! * ce! + w.c2! * 2 + w.c5! * 5, 5);
    });
    expect(logs).toEqual(history.epochs);
    distiller.dispose();
    // The kept weight scalars (0.5, 2, 3, 0.25) are gone with dispose().
    expect(tf.memory().numTensors).toBe(before);
    disposeData(data);
  });
});
