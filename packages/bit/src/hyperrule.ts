import { DistillationError, type LearningRateSchedule, optionsSchema, parseOptions } from '@kd/core';
import { z } from 'zod';
import { integer, positive } from './schemas';

/** Which resolution rule {@link hyperRule} uses for images of at least 96x96 pixels. */
export type HyperRuleResolution = 'code' | 'paper';

/** Options of {@link hyperRule}. */
export interface HyperRuleOptions {
  /** Number of training examples. */
  readonly trainSize: number;
  /** Original image size: `[height, width]` or one number for square images. */
  readonly imageSize: number | readonly [number, number];
  /**
   * `'code'` (default, `bit_hyperrule.py`): resize 512, crop 480 for images >= 96x96 pixels;
   * `'paper'` (the paper's text): resize 448, crop 384. Smaller images: resize 160, crop 128.
   */
  readonly resolution?: HyperRuleResolution;
  /** Base learning rate. Default 0.003. */
  readonly baseLr?: number;
  /** Batch size of the reference. Default 512. */
  readonly batchSize?: number;
  /**
   * Multiplies every step boundary (rounded, at least 1, kept strictly increasing) to run a
   * scaled-down schedule on small hardware. Default 1 (the rule exactly). Scaling changes the
   * method: report it next to any number.
   */
  readonly stepsScale?: number;
}

/** Schema of {@link HyperRuleOptions} (defaults applied). */
export const hyperRuleSchema = optionsSchema<HyperRuleOptions>()({
  trainSize: integer(1),
  imageSize: z.union([positive, z.tuple([positive, positive])]),
  resolution: z.enum(['code', 'paper']).default('code'),
  baseLr: positive.default(0.003),
  batchSize: integer(1).default(512),
  stepsScale: positive.default(1),
});

/** The BiT-HyperRule for one data set: resolution, MixUp and the step schedule. */
export interface HyperRule {
  /** Square resize before the random crop. */
  readonly resize: number;
  /** Crop size (training crop; evaluation resizes straight to it). */
  readonly crop: number;
  /** MixUp alpha: 0 below 20 000 examples, else 0.1. */
  readonly mixupAlpha: number;
  /** Step boundaries: warm-up ends at the first, /10 past each later one, training stops at the last. */
  readonly boundaries: readonly number[];
  readonly baseLr: number;
  readonly batchSize: number;
  /** Number of training steps (the last boundary). */
  readonly totalSteps: number;
  readonly stepsScale: number;
  /**
   * Learning rate of `step` (zero-based), or `null` when training is over (`step >= last`), as
   * `get_lr`: `baseLr * step / b0` during warm-up, then `baseLr / 10^k` where k counts the later
   * boundaries strictly below `step`.
   */
  schedule(step: number): number | null;
  /** {@link schedule} as a `@kd/core` learning-rate schedule (0 after the end). */
  readonly learningRate: LearningRateSchedule;
}

/** `bit_hyperrule.py`'s step boundaries for a training-set size (before scaling). */
export function hyperRuleBoundaries(trainSize: number): number[] {
  if (!Number.isInteger(trainSize) || trainSize < 1) {
    throw new DistillationError('bad-option', `hyperRuleBoundaries: trainSize must be an integer >= 1, got ${trainSize}`);
  }
  if (trainSize < 20_000) return [100, 200, 300, 400, 500];
  if (trainSize < 500_000) return [500, 3000, 6000, 9000, 10_000];
  return [500, 6000, 12_000, 18_000, 20_000];
}

/**
 * BiT-HyperRule (Kolesnikov et al. 2019, `bit_hyperrule.py`): the fine-tuning schedule,
 * resolution and MixUp from the data set's size and image size alone. SGD momentum 0.9,
 * batch 512, no weight decay (see `bitFineTune`).
 */
export function hyperRule(options: HyperRuleOptions): HyperRule {
  const { trainSize, imageSize, resolution, baseLr, batchSize, stepsScale } = parseOptions(hyperRuleSchema, options, 'hyperRule');
  const [h, w] = typeof imageSize === 'number' ? [imageSize, imageSize] : imageSize;
  const small = h * w < 96 * 96;
  const [resize, crop] = small ? [160, 128] : resolution === 'code' ? [512, 480] : [448, 384];
  const boundaries: number[] = [];
  for (const b of hyperRuleBoundaries(trainSize)) {
    const scaled = Math.max(1, Math.round(b * stepsScale));
    boundaries.push(boundaries.length && scaled <= boundaries[boundaries.length - 1]! ? boundaries[boundaries.length - 1]! + 1 : scaled);
  }
  const schedule = (step: number): number | null => {
    if (!(Number.isInteger(step) && step >= 0)) {
      throw new DistillationError('bad-option', `HyperRule.schedule: step must be an integer >= 0, got ${step}`);
    }
    if (step < boundaries[0]!) return (baseLr * step) / boundaries[0]!;
    if (step >= boundaries[boundaries.length - 1]!) return null;
    let lr = baseLr;
    for (const b of boundaries.slice(1)) if (b < step) lr /= 10;
    return lr;
  };
  return {
    resize,
    crop,
    mixupAlpha: trainSize < 20_000 ? 0 : 0.1,
    boundaries,
    baseLr,
    batchSize,
    totalSteps: boundaries[boundaries.length - 1]!,
    stepsScale,
    schedule,
    learningRate: ({ step }) => schedule(step) ?? 0,
  };
}
