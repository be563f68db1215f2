import {
  checkSource,
  type DataSource,
  DistillationError,
  type DistillationPlugin,
  Distiller,
  type EpochLogs,
  type EvaluationResult,
  functionSchema,
  hardLabel,
  isDataSource,
  type LabeledData,
  optionsSchema,
  type ProgressListener,
  parseOptions,
  type TeacherLike,
} from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import { bitPreprocess, isHyperRule, mixup, type PreprocessOptions } from './augment';
import { BitError } from './errors';
import type { HyperRule } from './hyperrule';
import { integer, isLabeledData, nonNegative, seedSchema, teacherSchema } from './schemas';

/** Options of {@link bitFineTune}. */
export interface BitFineTuneOptions {
  /** Examples per step. Default `rule.batchSize` (512). */
  readonly batchSize?: number;
  /** Seed of the run (shuffling, crops, flips, MixUp). Default 0. */
  readonly seed?: number;
  /**
   * Apply BiT's training preprocessing (`rule.resize` -> random `rule.crop`, flip, [-1, 1]) as the
   * first plugin. Default true; pass false when the data is already preprocessed.
   */
  readonly preprocess?: boolean | Partial<PreprocessOptions>;
  /** Override the rule's MixUp alpha (e.g. 0 to turn it off). Default `rule.mixupAlpha`. */
  readonly mixupAlpha?: number;
  /** A teacher: makes the run a distillation with the BiT schedule (add e.g. `softTargets` in `plugins`). */
  readonly teacher?: TeacherLike;
  /** More plugins, used after preprocessing and MixUp (default: `hardLabel()` only). */
  readonly plugins?: readonly DistillationPlugin<unknown>[];
  /** Include the hard-label cross-entropy. Default true. */
  readonly hardLabel?: boolean;
  /** SGD momentum. Default 0.9 (BiT). */
  readonly momentum?: number;
  /**
   * Evaluated after every epoch and at the end (already preprocessed, e.g. with
   * `bitEvalPreprocess`): `{ x, y }` tensors or a `DataSource`.
   */
  readonly validation?: LabeledData | DataSource;
  readonly onEvent?: ProgressListener;
}

/** Schema of {@link BitFineTuneOptions} (defaults applied). */
export const bitFineTuneSchema = optionsSchema<BitFineTuneOptions>()({
  batchSize: integer(1).optional(),
  seed: seedSchema.default(0),
  preprocess: z
    .union([
      z.boolean(),
      optionsSchema<Partial<PreprocessOptions>>()({
        resize: integer(1).optional(),
        crop: integer(1).optional(),
        flip: z.boolean().optional(),
        inputRange: z.tuple([z.number(), z.number()]).optional(),
      }),
    ])
    .default(true),
  mixupAlpha: nonNegative.optional(),
  teacher: teacherSchema.optional(),
  plugins: z
    .array(
      z.custom<DistillationPlugin<unknown>>(
        (v) => typeof v === 'object' && v !== null && typeof (v as { name?: unknown }).name === 'string',
        {
          message: 'must be a plugin (an object with a name)',
        },
      ),
    )
    .optional(),
  hardLabel: z.boolean().default(true),
  momentum: z.number({ message: 'must be a number in [0, 1)' }).min(0).lt(1).default(0.9),
  validation: z
    .custom<LabeledData | DataSource>((v) => isLabeledData(v) || isDataSource(v), {
      message: 'must be { x, y } tensors with one label per example, or a DataSource',
    })
    .optional(),
  onEvent: functionSchema<ProgressListener>().optional(),
});

/** Result of {@link bitFineTune}. */
export interface BitFineTuneResult {
  /** Optimizer steps taken: exactly `rule.totalSteps`. */
  readonly steps: number;
  /** Loss of every step. */
  readonly losses: number[];
  /** Learning rate of every step (the rule's schedule). */
  readonly learningRates: number[];
  /** Epochs completed before the stop (the last one may be partial and is not listed). */
  readonly epochs: readonly EpochLogs[];
  /** Evaluation on `validation` after the last step. */
  readonly validation?: EvaluationResult;
  readonly seconds: number;
  /** The Distiller that ran (its plugins are disposed). */
  readonly distiller: Distiller;
}

/**
 * tfjs-core 4.22's MomentumOptimizer.dispose() does not dispose the learning-rate scalar `c`
 * that SGDOptimizer.setLearningRate keeps; free it too.
 */
function disposeOptimizer(optimizer: tf.Optimizer): void {
  optimizer.dispose();
  const c = (optimizer as unknown as { c?: tf.Tensor }).c;
  if (c && !c.isDisposed) c.dispose();
}

/**
 * Fine-tunes `model` with the BiT-HyperRule on `@kd/core`'s Distiller: SGD with momentum 0.9 and
 * no weight decay, the rule's learning rate every step (linear warm-up, /10 past each boundary),
 * BiT preprocessing and MixUp as `transformBatch` plugins, and a stop after exactly
 * `rule.totalSteps` steps (the last boundary) whatever the epoch length. Scale the schedule down
 * with `hyperRule({ ..., stepsScale })`.
 *
 * `data` (and `validation`) are `{ x, y }` tensors or a `DataSource` (random access or front to
 * back; read batch by batch, so a data set larger than memory trains too). For a source, N is
 * `source.size` (the epochs the rule's steps take) and the image shape `source.exampleShape`; make
 * the rule from them: `hyperRule({ trainSize: source.size, imageSize: [h, w] })`. A source that
 * holds the same examples as tensors (`tensorSource`) gives the same bits.
 *
 * Everything is checked before any work: the options (`unknown-option`, `bad-option`), the model
 * (core's `bad-student`), the data (core's `bad-data`, `empty-data`; for a source core's
 * `checkSource`: `bad-source`, and `bad-images` unless with preprocessing its examples are images
 * `[H, W, C]`) and the rule (`bad-hyper-rule`).
 */
export async function bitFineTune(
  model: tfl.LayersModel,
  data: LabeledData | DataSource,
  rule: HyperRule,
  input: BitFineTuneOptions = {},
): Promise<BitFineTuneResult> {
  const options = parseOptions(bitFineTuneSchema, input, 'bitFineTune');
  if (!(model instanceof tfl.LayersModel)) {
    throw new DistillationError(
      'bad-student',
      `bitFineTune: the model must be a tfjs LayersModel, got ${model === null ? 'null' : typeof model}`,
    );
  }
  let n: number;
  if (isDataSource(data)) {
    checkSource(data, 'bitFineTune: training data', Number.POSITIVE_INFINITY);
    if (options.preprocess && data.exampleShape.length !== 3) {
      throw new BitError(
        'bad-images',
        `bitFineTune: training data${data.description ? ` (${data.description})` : ''} has examples of shape [${data.exampleShape}]; ` +
          'BiT preprocessing needs images [H, W, C] (or pass preprocess: false for data already preprocessed)',
      );
    }
    n = data.size;
  } else {
    if (!isLabeledData(data)) {
      throw new DistillationError(
        'bad-data',
        'bitFineTune: expected { x: Tensor, y: Tensor1D } with one label per example, or a DataSource',
      );
    }
    n = data.x.shape[0]!;
    if (n === 0) throw new DistillationError('empty-data', 'bitFineTune: the training data has no examples');
  }
  if (
    !isHyperRule(rule) ||
    !Number.isInteger(rule.totalSteps) ||
    rule.totalSteps < 1 ||
    !Number.isInteger(rule.batchSize) ||
    rule.batchSize < 1
  ) {
    throw new BitError(
      'bad-hyper-rule',
      'bitFineTune: rule must be a HyperRule from hyperRule() (resize, crop, batchSize, totalSteps >= 1, schedule)',
    );
  }
  const batchSize = options.batchSize ?? rule.batchSize;
  const plugins: DistillationPlugin<unknown>[] = [];
  if (options.preprocess) {
    const extra = typeof options.preprocess === 'object' ? options.preprocess : {};
    plugins.push(bitPreprocess({ resize: rule.resize, crop: rule.crop, ...extra }) as DistillationPlugin<unknown>);
  }
  const alpha = options.mixupAlpha ?? rule.mixupAlpha;
  if (alpha > 0) plugins.push(mixup({ alpha }) as DistillationPlugin<unknown>);
  if (options.hardLabel) plugins.push(hardLabel() as DistillationPlugin<unknown>);
  plugins.push(...(options.plugins ?? []));

  const optimizer = tf.train.momentum(0, options.momentum);
  let distiller: Distiller;
  try {
    distiller = new Distiller({ student: model, optimizer, seed: options.seed, ...(options.teacher ? { teacher: options.teacher } : {}) });
  } catch (error) {
    disposeOptimizer(optimizer);
    throw error;
  }
  const stepsPerEpoch = Math.ceil(n / batchSize);
  const epochs = Math.ceil(rule.totalSteps / stepsPerEpoch);
  const losses: number[] = [];
  const learningRates: number[] = [];
  const epochLogs: EpochLogs[] = [];
  const started = Date.now();
  try {
    for (const plugin of plugins) distiller.use(plugin);
    await distiller.fit(data, {
      epochs,
      batchSize,
      maxSteps: rule.totalSteps,
      validation: options.validation,
      learningRate: (progress) => rule.schedule(progress.step) ?? 0,
      onEvent: async (event) => {
        if (event.type === 'step-end') {
          losses.push(event.loss);
          learningRates.push(event.learningRate);
        }
        if (event.type === 'epoch-end') epochLogs.push(event.logs);
        await options.onEvent?.(event);
      },
    });
  } catch (error) {
    distiller.dispose();
    disposeOptimizer(optimizer);
    throw error;
  }
  const validation = options.validation ? await distiller.evaluate(options.validation) : undefined;
  distiller.dispose();
  disposeOptimizer(optimizer);
  return {
    steps: losses.length,
    losses,
    learningRates,
    epochs: epochLogs,
    ...(validation ? { validation } : {}),
    seconds: (Date.now() - started) / 1000,
    distiller,
  };
}
