import { cosineWeight, Distiller, ensembleOutputs, hardLabel, toTeacherOutputs } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { disposeData, expectRefused, leakedTensors, mlp, randomLogits, stepContext, stepOutputs, toyData } from '../test/helpers';
import { distFromLogProbabilities, distLoss } from './dist';
import { dist } from './distPlugin';

const value = (t: tf.Tensor): number => t.dataSync()[0]!;
const lossOf = (plugin: ReturnType<typeof dist>, outputs: ReturnType<typeof stepOutputs>) =>
  plugin.loss!(outputs, stepContext()) as tf.Scalar;

describe('dist plugin', () => {
  it('with a plain teacher computes exactly distLoss on the same logits (one shared computation)', async () => {
    const leaked = await leakedTensors(() =>
      tf.tidy(() => {
        const s = randomLogits(6, 10, 1);
        const t = randomLogits(6, 10, 2);
        const y = tf.tensor1d([0, 9, 3, 3, 7, 1], 'int32');
        const options = { beta: 2, gamma: 0.5, temperature: 4 };
        const outputs = stepOutputs(s, toTeacherOutputs({ logits: t, features: {} }), y);
        expect(value(lossOf(dist(options), outputs))).toBe(value(distLoss(s, t, options)));
        const viaPlugin = tf.grad((x: tf.Tensor) =>
          lossOf(dist(options), { ...outputs, student: { logits: x as tf.Tensor2D, features: {} } }),
        )(s);
        const viaLoss = tf.grad((x: tf.Tensor) => distLoss(x as tf.Tensor2D, t, options))(s);
        expect(Array.from(viaPlugin.dataSync())).toEqual(Array.from(viaLoss.dataSync()));
      }),
    );
    expect(leaked).toBe(0);
  });

  it("uses the teacher's distribution at T (an ensemble's members combined at T), not its logits / T", () => {
    tf.tidy(() => {
      const s = randomLogits(4, 5, 3);
      const members = tf.stack([randomLogits(4, 5, 4), randomLogits(4, 5, 5, 6)]) as tf.Tensor3D;
      const y = tf.tensor1d([0, 1, 2, 4], 'int32');
      const teacher = ensembleOutputs(members, 'arithmetic', {});
      const viaPlugin = value(lossOf(dist({ temperature: 4 }), stepOutputs(s, teacher, y)));
      expect(viaPlugin).toBe(value(distFromLogProbabilities(s, teacher.logProbabilities(4), 1, 1, 4)));
      expect(Math.abs(viaPlugin - value(distLoss(s, teacher.logits, { temperature: 4 })))).toBeGreaterThan(1e-3);
    });
  });

  it('declares what it reads; describe() prints T and non-default beta / gamma', () => {
    const plugin = dist();
    expect(plugin).toMatchObject({ name: 'dist', needsTeacher: true, label: 'dist(T=1)', weight: 1 });
    expect(plugin.labels).toBeUndefined();
    const t = mlp(4, 8, 3, 1, { name: 't' });
    const s = mlp(4, 4, 3, 2, { name: 's' });
    const distiller = new Distiller({ student: s, teacher: t, optimizer: tf.train.sgd(0.1) })
      .use(hardLabel())
      .use(dist({ temperature: 4 }))
      .use(dist({ name: 'dist2', beta: 2, gamma: 0, weight: 0.5 }));
    expect(distiller.describe()).toBe('Loss = 1*ce + 1*dist(T=4) + 0.5*dist2(T=1, beta=2, gamma=0)');
    distiller.dispose();
  });

  it('refuses a teacher of another class count, naming the plugin, leaking nothing', async () => {
    const s = randomLogits(4, 5, 6);
    const t = randomLogits(4, 6, 7);
    const y = tf.tensor1d([0, 1, 2, 4], 'int32');
    const outputs = stepOutputs(s, toTeacherOutputs({ logits: t, features: {} }), y);
    await expectRefused(
      () => lossOf(dist(), outputs),
      'class-count-mismatch',
      'Plugin "dist": student logits [4, 5] and teacher log-probabilities [4, 6]',
    );
    tf.dispose([s, t, y, outputs.batch.index]);
  });
});

describe('dist in a Distiller (tiny MLPs)', () => {
  it('with hard labels: finite terms, the DIST term falls on fixed data, a schedule weight is applied, no leaks', async () => {
    const data = toyData(96, 6, 4, 21);
    const teacher = mlp(6, 24, 4, 22, { name: 't' });
    const student = mlp(6, 8, 4, 23, { name: 's' });
    const optimizer = tf.train.sgd(0.5); // holds its rate as a tensor from here on
    const before = tf.memory().numTensors;
    const distiller = new Distiller({ student, teacher, optimizer, seed: 4 })
      .use(hardLabel({ weight: 0.1 }))
      .use(dist({ temperature: 2, weight: cosineWeight({ value: 2, final: 1, epochs: 4 }) }));
    expect(distiller.describe()).toBe('Loss = 0.1*ce + 2*dist(T=2, cosine to 1 over 4 epochs)');
    const { epochs } = await distiller.fit(data, { epochs: 6, batchSize: 32 });
    const expected = [0, 1, 2, 3, 4, 5].map((e) => 1 + (1 + Math.cos(Math.PI * Math.min(e / 4, 1))) / 2);
    epochs.forEach((e, i) => {
      expect(e.weights['dist']).toBeCloseTo(expected[i]!, 12);
      expect(Number.isFinite(e.terms['dist']) && Number.isFinite(e.terms['ce'])).toBe(true);
      expect(e.loss).toBeCloseTo(0.1 * e.terms['ce']! + e.weights['dist']! * e.terms['dist']!, 5);
    });
    expect(epochs.at(-1)!.terms['dist']!).toBeLessThan(epochs[0]!.terms['dist']! * 0.8);
    distiller.dispose();
    expect(tf.memory().numTensors).toBe(before);
    disposeData(data);
  });
});
