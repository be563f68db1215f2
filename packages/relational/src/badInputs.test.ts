import { Distiller } from '@kd/core';
import { expectNoTrainingStep, expectRefused } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import { disposeData, mlp, toyData } from '../test/helpers';
import { correlationCongruence, correlationCongruenceLoss } from './correlationCongruence';
import { EmbeddingHead } from './embeddingHead';
import { pkt, pktLoss } from './pkt';
import { rkd, rkdAngleLoss, rkdDistanceLoss, rkdLoss } from './rkd';
import { similarityPreserving, similarityPreservingLoss } from './similarityPreserving';

/** Every input is refused with a specific code, before any work, leaving no tensor behind. */

const keep: tf.Tensor[] = [];
const make = (shape: number[], dtype: 'float32' | 'int32' = 'float32') => {
  const t = tf.ones(shape, dtype);
  keep.push(t);
  return t;
};
afterAll(() => tf.dispose(keep));

type Loss = (s: tf.Tensor, t: tf.Tensor) => tf.Scalar;
const losses: [string, Loss, number][] = [
  ['similarityPreservingLoss', similarityPreservingLoss, 2],
  ['rkdLoss', (s, t) => rkdLoss(s, t), 3],
  ['rkdDistanceLoss', rkdDistanceLoss, 2],
  ['rkdAngleLoss', rkdAngleLoss, 3],
  ['pktLoss', pktLoss, 2],
  ['correlationCongruenceLoss', correlationCongruenceLoss, 2],
];

describe('the loss functions refuse bad features', () => {
  for (const [where, loss, minBatch] of losses) {
    it(`${where}: not a tensor, dtype, rank, empty, batch mismatch, too few examples`, async () => {
      const good = make([4, 3]);
      await expectRefused(
        () => loss([[1, 2]] as never, good),
        'not-a-tensor',
        `${where}: the student features must be a tf.Tensor, got an array of 1`,
      );
      await expectRefused(
        () => loss(good, undefined as never),
        'not-a-tensor',
        `${where}: the teacher features must be a tf.Tensor, got undefined`,
      );
      const disposed = tf.ones([4, 3]);
      disposed.dispose();
      await expectRefused(() => loss(disposed, good), 'not-a-tensor', 'the student features tensor is disposed');
      const input1 = make([4, 3], 'int32');
      await expectRefused(() => loss(input1, good), 'bad-dtype', `${where}: the student features must be float32, got int32 [4,3]`);
      const input2 = make([4, 3, 2]);
      await expectRefused(() => loss(good, input2), 'unsupported-rank', 'the teacher features must be [batch, features] or an NHWC map');
      const input3 = make([4]);
      await expectRefused(() => loss(input3, good), 'unsupported-rank', 'got rank 1 [4]');
      const input4 = make([4, 0]);
      await expectRefused(() => loss(input4, good), 'empty-feature', 'the student features have no values per example: [4,0]');
      const input5 = make([5, 3]);
      await expectRefused(() => loss(good, input5), 'batch-size-mismatch', 'student [4,3] and teacher [5,3] must hold the same examples');
      const small = make([minBatch - 1, 3]);
      await expectRefused(() => loss(small, small), 'batch-too-small', `${where}: needs a batch of at least ${minBatch} examples`);
    });
  }

  it('correlationCongruenceLoss: student and teacher embeddings of different shapes', async () => {
    const input6 = make([4, 3]);
    const input7 = make([4, 5]);
    await expectRefused(
      () => correlationCongruenceLoss(input6, input7),
      'feature-shape-mismatch',
      'student [4,3] and teacher [4,5] must have the same shape',
    );
    const input8 = make([4, 6]);
    const input9 = make([4, 1, 2, 3]);
    await expectRefused(() => correlationCongruenceLoss(input8, input9), 'feature-shape-mismatch', 'same shape');
  });

  it('SP, RKD and PKT accept different feature sizes and ranks on the two sides', () => {
    const input10 = make([4, 3]);
    const input11 = make([4, 2, 2, 5]);
    const before = tf.memory().numTensors;
    for (const loss of [similarityPreservingLoss, (s: tf.Tensor, t: tf.Tensor) => rkdLoss(s, t), pktLoss]) {
      const value = loss(input10, input11);
      expect(Number.isFinite(value.dataSync()[0])).toBe(true);
      value.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rkdLoss options: unknown keys, negative and NaN weights; angleWeight 0 needs only pairs', async () => {
    const s = make([4, 3]);
    await expectRefused(
      () => rkdLoss(s, s, { angelWeight: 1 } as never),
      'unknown-option',
      'rkdLoss: unknown option "angelWeight"; did you mean "angleWeight"?',
    );
    await expectRefused(() => rkdLoss(s, s, { distanceWeight: -1 }), 'bad-option', 'rkdLoss: option "distanceWeight" must be >= 0, got -1');
    await expectRefused(() => rkdLoss(s, s, { angleWeight: Number.NaN }), 'bad-option', 'rkdLoss: option "angleWeight"');
    await expectRefused(() => rkdLoss(s, s, { angleWeight: Number.POSITIVE_INFINITY }), 'bad-option', 'option "angleWeight"');
    const pair = make([2, 3]);
    await expectRefused(
      () => rkdLoss(pair, pair),
      'batch-too-small',
      'needs a batch of at least 3 examples (angles of triples of examples)',
    );
    const value = rkdLoss(pair, make([2, 5]), { angleWeight: 0 });
    expect(Number.isFinite(value.dataSync()[0])).toBe(true);
    value.dispose();
  });
});

describe('the plugin factories refuse bad options', () => {
  const factories: [string, (o: never) => unknown][] = [
    ['similarityPreserving', similarityPreserving as never],
    ['rkd', rkd as never],
    ['pkt', pkt as never],
    ['correlationCongruence', correlationCongruence as never],
  ];
  for (const [where, factory] of factories) {
    it(`${where}: unknown key, missing or empty layer names, negative / NaN weight, empty name`, async () => {
      const base = { student: 's', teacher: 't' };
      await expectRefused(
        () => factory({ ...base, wieght: 1 } as never),
        'unknown-option',
        `${where}: unknown option "wieght"; did you mean "weight"?`,
      );
      await expectRefused(
        () => factory({ teacher: 't' } as never),
        'bad-option',
        `${where}: option "student" must name a tapped student layer`,
      );
      await expectRefused(
        () => factory({ ...base, teacher: '' } as never),
        'bad-option',
        `${where}: option "teacher" must be >= 1, got ''`,
      );
      await expectRefused(() => factory({ ...base, weight: -3 } as never), 'bad-option', `${where}: option "weight" must be >= 0, got -3`);
      await expectRefused(() => factory({ ...base, weight: Number.NaN } as never), 'bad-option', `${where}: option "weight"`);
      await expectRefused(() => factory({ ...base, name: '' } as never), 'bad-option', `${where}: option "name" must be >= 1, got ''`);
    });
  }

  it('rkd: negative or NaN term weights; correlationCongruence: embeddingSize and normalize', async () => {
    const base = { student: 's', teacher: 't' };
    await expectRefused(() => rkd({ ...base, distanceWeight: -25 }), 'bad-option', 'rkd: option "distanceWeight" must be >= 0, got -25');
    await expectRefused(() => rkd({ ...base, angleWeight: Number.NaN }), 'bad-option', 'rkd: option "angleWeight"');
    await expectRefused(
      () => correlationCongruence({ ...base, embeddingSize: 0 }),
      'bad-option',
      'correlationCongruence: option "embeddingSize" must be > 0, got 0',
    );
    await expectRefused(
      () => correlationCongruence({ ...base, embeddingSize: 2.5 }),
      'bad-option',
      'correlationCongruence: option "embeddingSize" must be an integer, got 2.5',
    );
    await expectRefused(
      () => correlationCongruence({ ...base, normalize: 'yes' as never }),
      'bad-option',
      'option "normalize" must be a boolean',
    );
  });

  it('EmbeddingHead: sizes must be positive integers; apply checks the example size', async () => {
    await expectRefused(() => new EmbeddingHead(0, 4), 'bad-option', 'EmbeddingHead: inputSize must be a positive integer, got 0');
    await expectRefused(
      () => new EmbeddingHead(3, Number.NaN),
      'bad-option',
      'EmbeddingHead: embeddingSize must be a positive integer, got NaN',
    );
    await expectRefused(() => new EmbeddingHead(3, 2, { seed: Number.POSITIVE_INFINITY }), 'bad-option', 'seed must be a finite number');
    const head = new EmbeddingHead(6, 2);
    const input12 = make([4, 5]);
    await expectRefused(
      () => head.apply(input12),
      'feature-shape-mismatch',
      'EmbeddingHead: expected features [batch, 6] (or any shape with 6 values per example), got [4,5]',
    );
    const input13 = make([6, 2], 'int32');
    const input14 = make([2]);
    await expectRefused(() => head.setWeights(input13, input14), 'checkpoint-mismatch', 'kernel must be float32 [6, 2], got int32 [6,2]');
    const input15 = make([6, 2]);
    const input16 = make([3]);
    await expectRefused(() => head.setWeights(input15, input16), 'checkpoint-mismatch', 'bias must be float32 [2], got float32 [3]');
    const embedded = head.apply(make([4, 1, 2, 3]));
    expect(embedded.shape).toEqual([4, 2]);
    embedded.dispose();
    head.dispose();
  });
});

describe('the plugins refuse bad layers and batches in a Distiller, before a training step', () => {
  /** A model whose tapped layer `<name>_seq` is rank 3 ([batch, 2, 4]) and `<name>_free` a conv map of unknown size. */
  function oddModel(name: string): tfl.LayersModel {
    const input = tfl.input({ shape: [8] });
    const seq = tfl.layers.reshape({ targetShape: [2, 4], name: `${name}_seq` }).apply(input) as tfl.SymbolicTensor;
    const flat = tfl.layers.flatten().apply(seq) as tfl.SymbolicTensor;
    const logits = tfl.layers.dense({ units: 3, name: `${name}_logits` }).apply(flat) as tfl.SymbolicTensor;
    return tfl.model({ inputs: input, outputs: logits, name });
  }

  it('a rank-3 tapped layer: unsupported-rank in setup, with the plugin and layer names', async () => {
    const data = toyData(8, [8], 3, 1);
    for (const plugin of [
      similarityPreserving({ student: 'odd_seq', teacher: 'tm_h1' }),
      rkd({ student: 'odd_seq', teacher: 'tm_h1' }),
      pkt({ student: 'odd_seq', teacher: 'tm_h1' }),
      correlationCongruence({ student: 'odd_seq', teacher: 'tm_h1' }),
    ]) {
      const student = oddModel('odd');
      const distiller = new Distiller({ student, teacher: mlp(8, [5], 3, 2, 'tm'), optimizer: tf.train.sgd(0.1) }).use(plugin);
      await expectRefused(
        () => expectNoTrainingStep(student, (onEvent) => distiller.fit(data, { epochs: 1, batchSize: 4, onEvent })),
        'unsupported-rank',
        `Plugin "${plugin.name}" (student "odd_seq", teacher "tm_h1"): the student layer's output [null,2,4] is neither [batch, features] nor an NHWC map`,
      );
      distiller.dispose();
    }
    disposeData(data);
  });

  it('correlationCongruence: a tapped map of unknown size has no head size (unknown-size)', async () => {
    const input = tfl.input({ shape: [null, null, 1] });
    const map = tfl.layers.conv2d({ filters: 2, kernelSize: 1, name: 'free_map' }).apply(input) as tfl.SymbolicTensor;
    const pooled = tfl.layers.globalAveragePooling2d({}).apply(map) as tfl.SymbolicTensor;
    const logits = tfl.layers.dense({ units: 3 }).apply(pooled) as tfl.SymbolicTensor;
    const student = tfl.model({ inputs: input, outputs: logits });
    const teacher = tfl.model({ inputs: input, outputs: logits });
    const x = tf.randomNormal([4, 3, 3, 1], 0, 1, 'float32', 3);
    const y = tf.tensor1d([0, 1, 2, 0], 'int32');
    const distiller = new Distiller({ student, teacher, optimizer: tf.train.sgd(0.1) }).use(
      correlationCongruence({ student: 'free_map', teacher: 'free_map' }),
    );
    await expectRefused(
      () => expectNoTrainingStep(student, (onEvent) => distiller.fit({ x, y }, { epochs: 1, onEvent })),
      'unknown-size',
      'Plugin "cc" (student "free_map", teacher "free_map"): the student layer "free_map" has shape [null,null,null,2]',
    );
    distiller.dispose();
    tf.dispose([x, y]);
  });

  it('a short last batch: batch-too-small from fit before any step, naming the plugin and the batch', async () => {
    const data = toyData(5, [8], 3, 4); // batch size 4: the second batch holds 1 example
    for (const [plugin, needs] of [
      [similarityPreserving({ student: 'sm_h1', teacher: 'tm2_h1' }), 2],
      [rkd({ student: 'sm_h1', teacher: 'tm2_h1' }), 3],
      [pkt({ student: 'sm_h1', teacher: 'tm2_h1' }), 2],
      [correlationCongruence({ student: 'sm_h1', teacher: 'tm2_h1', embeddingSize: 2 }), 2],
    ] as const) {
      const distiller = new Distiller({
        student: mlp(8, [4], 3, 5, 'sm'),
        teacher: mlp(8, [5], 3, 6, 'tm2'),
        optimizer: tf.train.sgd(0.1),
      }).use(plugin);
      const steps: number[] = [];
      const error = await distiller
        .fit(data, { epochs: 1, batchSize: 4, shuffle: false, onEvent: (e) => void (e.type === 'step-end' && steps.push(e.step)) })
        .catch((e: Error) => e);
      expect((error as { code?: string }).code).toBe('batch-too-small');
      expect((error as Error).message).toBe(
        `fit: plugin "${plugin.name}" needs batches of at least ${needs} examples, but 5 examples in batches of 4 leave a last batch of 1; choose a batch size that leaves at least ${needs} examples in every batch`,
      );
      expect(steps).toEqual([]); // refused before the first step
      distiller.dispose();
    }
    disposeData(data);
  });
});
