/**
 * Bad-input battery of `@kd/logits`: every public function refuses bad options and bad tensors
 * with a specific kd error, before any work, leaking no tensor (`expectRefused` counts them).
 * One line per case: [what, run, code, message fragment].
 */
import { isDistillationError } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { expectRefused } from '../test/helpers';
import { distLoss } from './dist';
import { dist } from './distPlugin';
import { dkdLoss } from './dkd';
import { dkd } from './dkdPlugin';
import { LogitsError, logitsErrorCodes } from './errors';

type Case = readonly [what: string, run: () => unknown, code: string, fragment: string | RegExp];

// Long-lived inputs of the cases (disposed after the battery).
const s = tf.zeros([4, 5]) as tf.Tensor2D;
const t = tf.ones([4, 5]) as tf.Tensor2D;
const y = tf.tensor1d([0, 1, 2, 4], 'int32');
const inputs = {
  rank1: tf.zeros([5]) as unknown as tf.Tensor2D,
  rank3: tf.zeros([4, 5, 1]) as unknown as tf.Tensor2D,
  batch3: tf.zeros([3, 5]) as tf.Tensor2D,
  classes6: tf.zeros([4, 6]) as tf.Tensor2D,
  empty: tf.zeros([0, 5]) as tf.Tensor2D,
  oneClass: tf.zeros([4, 1]) as tf.Tensor2D,
  intLogits: tf.zeros([4, 5], 'int32') as tf.Tensor2D,
  floatLabels: tf.tensor1d([0, 1, 2, 4], 'float32'),
  labels2d: tf.zeros([4, 1], 'int32') as unknown as tf.Tensor1D,
  labels3: tf.tensor1d([0, 1, 2], 'int32'),
  labelTooBig: tf.tensor1d([0, 1, 5, 4], 'int32'),
  labelNegative: tf.tensor1d([0, -1, 2, 4], 'int32'),
  oneHot: tf.oneHot(tf.tensor1d([0, 1, 2, 4], 'int32'), 5) as unknown as tf.Tensor1D,
};
afterAll(() => tf.dispose([s, t, y, ...Object.values(inputs)]));

const optionCases: Case[] = [
  ['dkdLoss: misspelt "temperature"', () => dkdLoss(s, t, y, { temprature: 2 } as never), 'unknown-option', 'did you mean "temperature"'],
  ['dkdLoss: an unrelated key', () => dkdLoss(s, t, y, { gamma: 1 } as never), 'unknown-option', 'dkdLoss: unknown option "gamma"'],
  ['dkdLoss: negative alpha', () => dkdLoss(s, t, y, { alpha: -1 }), 'bad-option', 'option "alpha"'],
  ['dkdLoss: NaN alpha', () => dkdLoss(s, t, y, { alpha: Number.NaN }), 'bad-option', 'option "alpha"'],
  ['dkdLoss: negative beta', () => dkdLoss(s, t, y, { beta: -8 }), 'bad-option', 'option "beta"'],
  ['dkdLoss: infinite beta', () => dkdLoss(s, t, y, { beta: Number.POSITIVE_INFINITY }), 'bad-option', 'option "beta"'],
  ['dkdLoss: temperature 0', () => dkdLoss(s, t, y, { temperature: 0 }), 'bad-option', 'option "temperature"'],
  ['dkdLoss: negative temperature', () => dkdLoss(s, t, y, { temperature: -4 }), 'bad-option', 'option "temperature"'],
  ['dkdLoss: NaN temperature', () => dkdLoss(s, t, y, { temperature: Number.NaN }), 'bad-option', 'option "temperature"'],
  ['dkdLoss: string temperature', () => dkdLoss(s, t, y, { temperature: '4' as never }), 'bad-option', 'option "temperature"'],
  ['dkdLoss: options not an object', () => dkdLoss(s, t, y, 4 as never), 'bad-option', 'dkdLoss: options'],
  ['distLoss: misspelt "gamma"', () => distLoss(s, t, { gama: 1 } as never), 'unknown-option', 'did you mean "gamma"'],
  ['distLoss: an unrelated key', () => distLoss(s, t, { alpha: 1 } as never), 'unknown-option', 'distLoss: unknown option "alpha"'],
  ['distLoss: negative beta', () => distLoss(s, t, { beta: -1 }), 'bad-option', 'option "beta"'],
  ['distLoss: NaN gamma', () => distLoss(s, t, { gamma: Number.NaN }), 'bad-option', 'option "gamma"'],
  ['distLoss: negative gamma', () => distLoss(s, t, { gamma: -0.5 }), 'bad-option', 'option "gamma"'],
  ['distLoss: temperature 0', () => distLoss(s, t, { temperature: 0 }), 'bad-option', 'option "temperature"'],
  ['distLoss: NaN temperature', () => distLoss(s, t, { temperature: Number.NaN }), 'bad-option', 'option "temperature"'],
  ['distLoss: negative temperature', () => distLoss(s, t, { temperature: -1 }), 'bad-option', 'option "temperature"'],
  // the plugins
  ['dkd: misspelt "warmupEpochs"', () => dkd({ warmupEpoch: 5 } as never), 'unknown-option', 'did you mean "warmupEpochs"'],
  ['dkd: misspelt "beta"', () => dkd({ betta: 8 } as never), 'unknown-option', 'dkd: unknown option "betta"'],
  ['dkd: negative warmupEpochs', () => dkd({ warmupEpochs: -1 }), 'bad-option', 'option "warmupEpochs"'],
  ['dkd: fractional warmupEpochs', () => dkd({ warmupEpochs: 2.5 }), 'bad-option', 'option "warmupEpochs" must be an integer'],
  ['dkd: negative weight', () => dkd({ weight: -1 }), 'bad-option', 'option "weight"'],
  ['dkd: NaN weight', () => dkd({ weight: Number.NaN }), 'bad-option', 'option "weight"'],
  [
    'dkd: a schedule as weight (the warm-up is warmupEpochs)',
    () => dkd({ weight: { kind: 'linear-warmup', value: 1, epochs: 20 } as never }),
    'bad-option',
    'option "weight"',
  ],
  ['dkd: negative alpha', () => dkd({ alpha: -1 }), 'bad-option', 'dkd: option "alpha"'],
  ['dkd: NaN beta', () => dkd({ beta: Number.NaN }), 'bad-option', 'dkd: option "beta"'],
  ['dkd: temperature 0', () => dkd({ temperature: 0 }), 'bad-option', 'dkd: option "temperature"'],
  ['dkd: empty name', () => dkd({ name: '' }), 'bad-option', 'option "name"'],
  ['dist: misspelt "temperature"', () => dist({ tau: 4 } as never), 'unknown-option', 'dist: unknown option "tau"'],
  ['dist: misspelt "gamma"', () => dist({ gamm: 1 } as never), 'unknown-option', 'did you mean "gamma"'],
  ['dist: negative weight', () => dist({ weight: -2 }), 'bad-option', 'option "weight"'],
  [
    'dist: a schedule of 0 epochs',
    () => dist({ weight: { kind: 'cosine', value: 1, final: 0, epochs: 0 } as never }),
    'bad-option',
    'option "weight.epochs"',
  ],
  ['dist: negative beta', () => dist({ beta: -1 }), 'bad-option', 'dist: option "beta"'],
  ['dist: NaN gamma', () => dist({ gamma: Number.NaN }), 'bad-option', 'dist: option "gamma"'],
  ['dist: negative temperature', () => dist({ temperature: -4 }), 'bad-option', 'dist: option "temperature"'],
];

const tensorCases: Case[] = [
  [
    'dkdLoss: student logits not a tensor',
    () => dkdLoss([[0]] as never, t, y),
    'not-a-tensor',
    'dkdLoss: student logits must be a tf.Tensor',
  ],
  ['dkdLoss: teacher logits undefined', () => dkdLoss(s, undefined as never, y), 'not-a-tensor', 'teacher logits must be a tf.Tensor'],
  ['dkdLoss: labels an array', () => dkdLoss(s, t, [0, 1, 2, 4] as never), 'not-a-tensor', 'labels must be a tf.Tensor'],
  [
    'dkdLoss: 1-D student logits',
    () => dkdLoss(inputs.rank1, t, y),
    'logits-not-2d',
    'student logits must be 2-D [batch, classes], got shape [5]',
  ],
  [
    'dkdLoss: 3-D teacher logits',
    () => dkdLoss(s, inputs.rank3, y),
    'logits-not-2d',
    'teacher logits must be 2-D [batch, classes], got shape [4, 5, 1]',
  ],
  ['dkdLoss: int32 student logits', () => dkdLoss(inputs.intLogits, t, y), 'logits-not-float', 'student logits must be float32, got int32'],
  [
    'dkdLoss: teacher batch 3 vs 4',
    () => dkdLoss(s, inputs.batch3, y),
    'batch-size-mismatch',
    'student logits [4, 5] and teacher logits [3, 5]',
  ],
  [
    'dkdLoss: teacher 6 classes vs 5',
    () => dkdLoss(s, inputs.classes6, y),
    'class-count-mismatch',
    'student logits [4, 5] and teacher logits [4, 6]',
  ],
  ['dkdLoss: empty batch', () => dkdLoss(inputs.empty, inputs.empty, inputs.labels3), 'empty-batch', 'logits [0, 5] have no example'],
  [
    'dkdLoss: one class',
    () => dkdLoss(inputs.oneClass, inputs.oneClass, y),
    'too-few-classes',
    'logits [4, 1] must have at least 2 classes',
  ],
  [
    'dkdLoss: float32 labels',
    () => dkdLoss(s, t, inputs.floatLabels),
    'bad-labels',
    'labels must be int32 class indices, got dtype float32',
  ],
  ['dkdLoss: 2-D labels', () => dkdLoss(s, t, inputs.labels2d), 'bad-labels', 'labels must be 1-D [batch] class indices, got shape [4, 1]'],
  ['dkdLoss: one-hot labels', () => dkdLoss(s, t, inputs.oneHot), 'bad-labels', 'got shape [4, 5]'],
  ['dkdLoss: 3 labels for a batch of 4', () => dkdLoss(s, t, inputs.labels3), 'batch-size-mismatch', '3 labels for a batch of 4 logits'],
  ['dkdLoss: label 5 of 5 classes', () => dkdLoss(s, t, inputs.labelTooBig), 'label-out-of-range', 'label 2 = 5 is not a class in [0, 5)'],
  ['dkdLoss: label -1', () => dkdLoss(s, t, inputs.labelNegative), 'label-out-of-range', 'label 1 = -1 is not a class in [0, 5)'],
  [
    'distLoss: student logits null',
    () => distLoss(null as never, t),
    'not-a-tensor',
    'distLoss: student logits must be a tf.Tensor, got null',
  ],
  ['distLoss: 1-D teacher logits', () => distLoss(s, inputs.rank1), 'logits-not-2d', 'distLoss: teacher logits must be 2-D'],
  ['distLoss: int32 teacher logits', () => distLoss(s, inputs.intLogits), 'logits-not-float', 'teacher logits must be float32'],
  ['distLoss: teacher batch 3 vs 4', () => distLoss(s, inputs.batch3), 'batch-size-mismatch', 'have different batch sizes'],
  ['distLoss: student 6 classes vs 5', () => distLoss(inputs.classes6, t), 'class-count-mismatch', 'have different numbers of classes'],
  ['distLoss: empty batch', () => distLoss(inputs.empty, inputs.empty), 'empty-batch', 'distLoss: the logits [0, 5] have no example'],
  ['distLoss: one class', () => distLoss(inputs.oneClass, inputs.oneClass), 'too-few-classes', 'at least 2 classes'],
];

describe('bad input is refused with a specific code, before any work, leaking nothing', () => {
  for (const [what, run, code, fragment] of [...optionCases, ...tensorCases]) {
    it(`${what} -> ${code}`, async () => {
      await expectRefused(run, code, fragment);
    });
  }

  it('options are checked before the tensors', async () => {
    await expectRefused(() => dkdLoss(inputs.rank1, t, inputs.floatLabels, { temperature: -1 }), 'bad-option', 'option "temperature"');
    await expectRefused(() => distLoss(inputs.rank1, t, { gama: 1 } as never), 'unknown-option', 'gama');
  });

  it("LogitsError carries the package's codes and is recognised as a kd error", () => {
    const error = new LogitsError('empty-batch', 'x');
    expect(isDistillationError(error, 'empty-batch')).toBe(true);
    expect(error.name).toBe('LogitsError');
    expect(Object.keys(logitsErrorCodes).sort()).toEqual([
      'batch-size-mismatch',
      'empty-batch',
      'logits-not-float',
      'not-a-tensor',
      'too-few-classes',
    ]);
  });
});
