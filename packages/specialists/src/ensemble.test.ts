import { Distiller, evaluateModel, isTeacher, softTargets, toTeacher } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { leakedTensors, mlp, take } from '../test/helpers';
import { combine } from './combine';
import { coverageCounts, SpecialistEnsemble } from './ensemble';
import { specialistModel } from './specialist';
import { trainSpecialist } from './train';

function toyData(n: number, seed: number) {
  return tf.tidy(() => {
    const x = tf.randomNormal([n, 6], 0, 1, 'float32', seed);
    const w = tf.randomNormal([6, 5], 0, 1, 'float32', 99);
    return { x, y: tf.cast(tf.argMax(tf.matMul(x, w), 1), 'int32') as tf.Tensor1D };
  });
}

describe('SpecialistEnsemble', () => {
  it('is a @kd/core Teacher: predict = combine, taps rejected, distils into one student without leaks', async () => {
    const generalist = mlp(6, 12, 5, 1, 'gen');
    const data = toyData(256, 3);
    const subset = [0, 2];
    const sModel = specialistModel(generalist, subset);
    const optimizer = tf.train.sgd(0.1); // holds its learning-rate scalar
    const leaked = await leakedTensors(async () => {
      const { sample } = await trainSpecialist(sModel, data, subset, { optimizer, epochs: 1, batchSize: 32, seed: 1 });
      expect(sample.dustbinShift).toBeCloseTo(Math.log(sample.subsetPrior > 0 ? (1 - sample.subsetPrior) / sample.subsetPrior : 1), 10);
    });
    expect(leaked).toBe(0);
    const ensemble = new SpecialistEnsemble(generalist, [{ model: sModel, classes: subset }], { steps: 20, solver: 'em' });
    expect(isTeacher(ensemble)).toBe(true);
    expect(toTeacher(ensemble)).toBe(ensemble);
    expect(ensemble.description).toMatch(/generalist \+ 1 specialists .*20 EM steps.*\{0,2\}/);
    expect(() => ensemble.tap(['gen_hidden'])).toThrow(/SpecialistEnsemble/);
    expect(ensemble.tap([])).toEqual({});
    expect(Array.from(ensemble.coverage(5))).toEqual([1, 0, 1, 0, 0]);

    const x = tf.slice(data.x, 0, 16);
    let fromTeacher: number[][] = [];
    expect(
      await leakedTensors(() => {
        const out = ensemble.predict(x);
        expect(out.features).toEqual({});
        fromTeacher = take(out.logits);
      }),
    ).toBe(0);
    const direct = take(combine(generalist, [{ model: sModel, classes: subset }], x, { steps: 20, solver: 'em' }));
    expect(fromTeacher).toEqual(direct);
    // log q is normalised.
    fromTeacher.forEach((row) => expect(row.reduce((s, v) => s + Math.exp(v), 0)).toBeCloseTo(1, 5));

    const student = mlp(6, 8, 5, 7, 'stu');
    const distiller = new Distiller({ teacher: ensemble, student, optimizer: tf.train.sgd(0.1), seed: 2 }).use(
      softTargets({ temperature: 2, weight: 1 }),
    );
    expect(distiller.describe()).toContain('kd(T=2)');
    const before = tf.memory().numTensors;
    const history = await distiller.fit(data, { epochs: 2, batchSize: 64 });
    expect(tf.memory().numTensors).toBe(before);
    const kd = history.epochs.map((e) => e.terms['kd']!);
    expect(kd.every(Number.isFinite)).toBe(true);
    const evaluation = await evaluateModel(ensemble, data);
    expect(evaluation.accuracy).toBeGreaterThan(0);
    distiller.dispose();
    optimizer.dispose();
    tf.dispose([x, data.x, data.y]);
    [generalist, sModel, student].forEach((m) => m.dispose());
  });

  it('coverageCounts counts overlapping subsets', () => {
    expect(Array.from(coverageCounts([{ classes: [0, 1] }, { classes: [1, 2] }, { classes: [1] }], 4))).toEqual([1, 3, 1, 0]);
  });
});
