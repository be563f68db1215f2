import {
  Distiller,
  type DistillationPlugin,
  type EpochLogs,
  type EvaluationResult,
  hardLabel,
  type LabeledData,
  type ProgressListener,
  type TeacherLike,
} from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { bitPreprocess, mixup, type PreprocessOptions } from './augment';
import type { HyperRule } from './hyperrule';

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
  /** Evaluated after every epoch and at the end (already preprocessed, e.g. with `bitEvalPreprocess`). */
  readonly validation?: LabeledData;
  readonly onEvent?: ProgressListener;
}

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
 */
export async function bitFineTune(
  model: tfl.LayersModel,
  data: LabeledData,
  rule: HyperRule,
  options: BitFineTuneOptions = {},
): Promise<BitFineTuneResult> {
  const batchSize = options.batchSize ?? rule.batchSize;
  const optimizer = tf.train.momentum(0, options.momentum ?? 0.9);
  const distiller = new Distiller({ student: model, optimizer, seed: options.seed ?? 0, ...(options.teacher ? { teacher: options.teacher } : {}) });
  if (options.preprocess ?? true) {
    const extra = typeof options.preprocess === 'object' ? options.preprocess : {};
    distiller.use(bitPreprocess({ resize: rule.resize, crop: rule.crop, ...extra }));
  }
  const alpha = options.mixupAlpha ?? rule.mixupAlpha;
  if (alpha > 0) distiller.use(mixup({ alpha }));
  if (options.hardLabel ?? true) distiller.use(hardLabel());
  for (const plugin of options.plugins ?? []) distiller.use(plugin);

  const n = data.x.shape[0]!;
  const stepsPerEpoch = Math.ceil(n / batchSize);
  const epochs = Math.ceil(rule.totalSteps / stepsPerEpoch);
  const losses: number[] = [];
  const learningRates: number[] = [];
  const epochLogs: EpochLogs[] = [];
  const started = Date.now();
  try {
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
