import { Distiller, ensembleOutputs, hardLabel, toTeacherOutputs } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { disposeData, expectRefused, leakedTensors, mlp, randomLogits, stepContext, stepOutputs, toyData } from '../test/helpers';
import { decoupledKd, dkdLoss } from './dkd';
import { dkd } from './dkdPlugin';

const value = (t: tf.Tensor): number => t.dataSync()[0]!;
const lossOf = (plugin: ReturnType<typeof dkd>, outputs: ReturnType<typeof stepOutputs>) =>
  plugin.loss!(outputs, stepContext()) as tf.Scalar;

describe('dkd plugin', () => {
  it('with a plain teacher computes exactly dkdLoss on the same logits (one shared computation)', async () => {
    const leaked = await leakedTensors(() =>
      tf.tidy(() => {
        const s = randomLogits(6, 10, 1);
        const t = randomLogits(6, 10, 2);
        const y = tf.tensor1d([0, 9, 3, 3, 7, 1], 'int32');
        const options = { alpha: 0.5, beta: 4, temperature: 2 };
        const outputs = stepOutputs(s, toTeacherOutputs({ logits: t, features: {} }), y);
        expect(value(lossOf(dkd({ ...options, warmupEpochs: 0 }), outputs))).toBe(value(dkdLoss(s, t, y, options)));
        // The same gradient w.r.t. the student logits, bit for bit.
        const viaPlugin = tf.grad((x: tf.Tensor) =>
          lossOf(dkd(options), { ...outputs, student: { logits: x as tf.Tensor2D, features: {} } }),
        )(s);
        const viaLoss = tf.grad((x: tf.Tensor) => dkdLoss(x as tf.Tensor2D, t, y, options))(s);
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
      const viaPlugin = value(lossOf(dkd({ temperature: 4 }), stepOutputs(s, teacher, y)));
      expect(viaPlugin).toBe(value(decoupledKd(s, teacher.logProbabilities(4), y, 1, 8, 4)));
      // The ensemble's logits are its combination at T = 1: dividing them by T is another distribution.
      expect(Math.abs(viaPlugin - value(dkdLoss(s, teacher.logits, y, { temperature: 4 })))).toBeGreaterThan(1e-3);
    });
  });

  it('declares what it reads, and describe() prints T, non-default alpha / beta and the warm-up', () => {
    const plugin = dkd();
    expect(plugin).toMatchObject({ name: 'dkd', needsTeacher: true, labels: 'hard', label: 'dkd(T=4)' });
    expect(plugin.weight).toEqual({ kind: 'linear-warmup', value: 1, epochs: 20 });
    expect(dkd({ warmupEpochs: 0, weight: 2 }).weight).toBe(2);
    const t = mlp(4, 8, 3, 1, { name: 't' });
    const s = mlp(4, 4, 3, 2, { name: 's' });
    const distiller = new Distiller({ student: s, teacher: t, optimizer: tf.train.sgd(0.1) })
      .use(hardLabel())
      .use(dkd())
      .use(dkd({ name: 'dkd2', alpha: 2, beta: 1, temperature: 1, warmupEpochs: 0, weight: 0.5 }));
    expect(distiller.describe()).toBe('Loss = 1*ce + 1*dkd(T=4, warm-up 20 epochs) + 0.5*dkd2(T=1, alpha=2, beta=1)');
    distiller.dispose();
  });

  it('refuses logits and labels that do not fit the step, naming the plugin, leaking nothing', async () => {
    const s = randomLogits(4, 5, 6);
    const t = randomLogits(4, 6, 7);
    const y = tf.tensor1d([0, 1, 2, 4], 'int32');
    const yFloat = tf.tensor1d([0, 1, 2, 4], 'float32');
    const index = tf.range(0, 4, 1, 'int32') as tf.Tensor1D;
    const teacher = toTeacherOutputs({ logits: t, features: {} });
    const batch = (labels: tf.Tensor1D) => ({ x: s, y: labels, index });
    const student = { logits: s, features: {} };
    await expectRefused(
      () => dkd().loss!({ student, teacher, batch: batch(y) }, stepContext()),
      'class-count-mismatch',
      'Plugin "dkd": student logits [4, 5] and teacher log-probabilities [4, 6]',
    );
    const same = toTeacherOutputs({ logits: s, features: {} });
    await expectRefused(
      () => dkd({ name: 'mine' }).loss!({ student, teacher: same, batch: batch(yFloat) }, stepContext()),
      'bad-labels',
      'Plugin "mine": labels must be int32',
    );
    tf.dispose([s, t, y, yFloat, index]);
  });
});

describe('dkd in a Distiller (tiny MLPs)', () => {
  it('warms its weight up over warmupEpochs, lowers its term on fixed data, finite, leaks nothing', async () => {
    const data = toyData(96, 6, 4, 11);
    const teacher = mlp(6, 24, 4, 12, { name: 't' });
    const student = mlp(6, 8, 4, 13, { name: 's' });
    const optimizer = tf.train.sgd(0.5); // holds its rate as a tensor from here on
    const before = tf.memory().numTensors;
    const distiller = new Distiller({ student, teacher, optimizer, seed: 3 }).use(dkd({ temperature: 2, warmupEpochs: 4 }));
    expect(distiller.describe()).toBe('Loss = 1*dkd(T=2, warm-up 4 epochs)');
    const { epochs } = await distiller.fit(data, { epochs: 6, batchSize: 32 });
    // mdistiller's min(epoch / warmup, 1) with 1-based epochs: 1/4, 2/4, 3/4, 1, 1, 1.
    expect(epochs.map((e) => e.weights['dkd'])).toEqual([0.25, 0.5, 0.75, 1, 1, 1]);
    for (const e of epochs) {
      const term = e.terms['dkd']!;
      expect(Number.isFinite(term) && term > 0).toBe(true);
      // The weight is the one applied: the epoch's loss is the weighted term.
      expect(e.loss).toBeCloseTo(e.weights['dkd']! * term, 5);
    }
    expect(epochs.at(-1)!.terms['dkd']!).toBeLessThan(epochs[0]!.terms['dkd']! * 0.8);
    distiller.dispose();
    // Everything the run made (teacher cache, the kept weight scalars) is gone with the Distiller.
    expect(tf.memory().numTensors).toBe(before);
    disposeData(data);
  });
});
