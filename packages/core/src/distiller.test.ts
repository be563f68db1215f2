import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { disposeData, kernelCounts, leakedTensors, mlp, toyData } from '../test/helpers';
import { Distiller, weightedTotal } from './distiller';
import type { ProgressEvent } from './events';
import { definePlugin } from './plugin';
import { hardLabel } from './plugins/hardLabel';
import { softTargets } from './plugins/softTargets';

describe('Distiller', () => {
  it('describes the weighted loss in use() order', () => {
    const d = new Distiller({ student: mlp(4, 8, 3, 1), teacher: mlp(4, 8, 3, 2), optimizer: tf.train.sgd(0.1) })
      .use(hardLabel({ weight: 1 }))
      .use(softTargets({ temperature: 4, weight: 0.9 }));
    expect(d.describe()).toBe('Loss = 1*ce + 0.9*kd(T=4)');
  });

  it('trains a layer frozen or unfrozen from a listener from the next step on', async () => {
    const data = toyData(64, 4, 3, 1);
    const student = mlp(4, 8, 3, 2, 'frozen_later');
    const first = student.layers.find((l) => l.getWeights().length > 0)!;
    const d = new Distiller({ student, optimizer: tf.train.sgd(0.1), seed: 1 }).use(hardLabel());
    const values = () => first.getWeights().map((w) => Array.from(w.dataSync()));
    let atChange: number[][] = [];
    const changeAtStep = (step: number, trainable: boolean) => (e: ProgressEvent) => {
      if (e.type !== 'step-end' || e.step !== step) return;
      atChange = values();
      first.trainable = trainable;
    };
    // Frozen after the first of 4 steps: its weights keep their values from then on.
    await d.fit(data, { epochs: 1, batchSize: 16, onEvent: changeAtStep(0, false) });
    expect(atChange.length).toBeGreaterThan(0);
    expect(values()).toEqual(atChange);
    // Unfrozen after the first step of the next epoch: trained again.
    await d.fit(data, { epochs: 2, batchSize: 16, onEvent: changeAtStep(4, true) });
    expect(values()).not.toEqual(atChange);
    d.dispose();
    student.dispose();
    disposeData(data);
  });

  it('trains the student towards the teacher and leaks nothing', async () => {
    const data = toyData(256, 8, 3, 3);
    const teacher = mlp(8, 32, 3, 10, 'teacher');
    const teacherTrainer = new Distiller({ student: teacher, optimizer: tf.train.adam(0.01), seed: 1 }).use(hardLabel());
    await teacherTrainer.fit(data, { epochs: 20, batchSize: 32 });
    const teacherAcc = (await teacherTrainer.evaluate(data)).accuracy;
    expect(teacherAcc).toBeGreaterThan(0.9);

    const student = mlp(8, 16, 3, 20, 'student');
    const distiller = new Distiller({ student, teacher, optimizer: tf.train.adam(0.01), seed: 2 })
      .use(hardLabel({ weight: 0.1 }))
      .use(softTargets({ temperature: 4, weight: 0.9 }));
    const before = await distiller.evaluate(data);
    let history: Awaited<ReturnType<Distiller['fit']>> | undefined;
    const leaked = await leakedTensors(async () => {
      history = await distiller.fit(data, { epochs: 15, batchSize: 32, validation: data });
    });
    // Adam creates 2 moment variables per student weight on its first step, and the Distiller
    // keeps one scalar per plugin weight other than 1 (0.1 and 0.9) until dispose(); nothing else may remain.
    expect(leaked).toBe(2 * student.trainableWeights.length + 2);
    const first = history!.epochs[0]!;
    const last = history!.epochs.at(-1)!;
    expect(last.terms['kd']!).toBeLessThan(first.terms['kd']! * 0.5);
    expect(last.validation!.accuracy).toBeGreaterThan(before.accuracy);
    expect(last.validation!.accuracy).toBeGreaterThan(0.85);
    // A further epoch and an evaluation leak nothing.
    expect(await leakedTensors(() => distiller.fit(data, { epochs: 16, batchSize: 32 }))).toBe(0);
    expect(await leakedTensors(() => distiller.evaluate(data))).toBe(0);
    disposeData(data);
  });

  it("draws each plugin's randomness from its own keyed stream: adding a plugin changes no other's draws", async () => {
    const data = toyData(24, 4, 3, 4);
    const draws = async (withOther: boolean) => {
      const seen: number[] = [];
      const recorder = definePlugin<number>({
        name: 'recorder',
        setup: ({ random }) => random.nextUint32(),
        transformBatch: (batch, { random, state }) => {
          seen.push(state, random.nextUint32(), random.nextUint32());
          return batch;
        },
      });
      const other = definePlugin<void>({
        name: 'other',
        transformBatch: (batch, { random }) => {
          random.permutation(50);
          return batch;
        },
      });
      const student = mlp(4, 8, 3, 1);
      const d = new Distiller({ student, optimizer: tf.train.sgd(0.1), seed: 9 }).use(...(withOther ? [other] : []), hardLabel(), recorder);
      await d.fit(data, { epochs: 2, batchSize: 8 });
      d.dispose();
      student.dispose();
      return seen;
    };
    const alone = await draws(false);
    expect(alone).toHaveLength(6 * 3);
    expect(new Set(alone).size).toBe(1 + 6 * 2); // the setup draw (kept as state) and 2 fresh draws per step
    expect(await draws(true)).toEqual(alone);
    disposeData(data);
  });
});

describe('weightedTotal', () => {
  const a = tf.variable(tf.scalar(1.37));
  const b = tf.variable(tf.scalar(-0.61));
  const c = tf.variable(tf.scalar(2.9));
  const w1 = tf.scalar(0.1);
  const w2 = tf.scalar(0.9);
  const terms = () => [tf.square(a), tf.mul(b, 3), tf.exp(c)] as tf.Scalar[];

  for (const [label, weights, plain] of [
    ['two weighted terms', [w1, w2], (t: tf.Scalar[]) => tf.addN([tf.mul(t[0]!, w1), tf.mul(t[1]!, w2)])],
    ['three terms, one of weight 1', [w1, undefined, w2], (t: tf.Scalar[]) => tf.addN([tf.mul(t[0]!, w1), t[1]!, tf.mul(t[2]!, w2)])],
  ] as const) {
    it(`${label}: the same value and gradients (bits) as tf.mul + tf.addN, fewer kernels, nothing leaked`, () => {
      const n = weights.length;
      const before = tf.memory().numTensors;
      const ours = tf.variableGrads(
        () => weightedTotal(terms().slice(0, n), weights as readonly (tf.Scalar | undefined)[]),
        [a, b, c].slice(0, n),
      );
      const theirs = tf.variableGrads(() => plain(terms()) as tf.Scalar, [a, b, c].slice(0, n));
      expect(ours.value.dataSync()[0]).toBe(theirs.value.dataSync()[0]);
      for (const v of [a, b, c].slice(0, n)) expect(ours.grads[v.name]!.dataSync()[0]).toBe(theirs.grads[v.name]!.dataSync()[0]);
      tf.dispose([ours.value, theirs.value, ...Object.values(ours.grads), ...Object.values(theirs.grads)]);
      expect(tf.memory().numTensors).toBe(before);
      const count = (f: () => tf.Scalar) =>
        Object.values(kernelCounts(() => tf.tidy(() => void tf.variableGrads(f, [a, b, c].slice(0, n))))).reduce((x, y) => x + y, 0);
      expect(count(() => weightedTotal(terms().slice(0, n), weights as readonly (tf.Scalar | undefined)[]))).toBeLessThan(
        count(() => plain(terms()) as tf.Scalar),
      );
    });
  }

  it('a single term of weight 1 is returned as it is (no kernel)', () => {
    const t = tf.scalar(3);
    expect(weightedTotal([t], [undefined])).toBe(t);
    t.dispose();
  });
});
