import type { LearningRateSchedule } from '@kd/core';

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
  const { trainSize } = options;
  if (!Number.isInteger(trainSize) || trainSize < 1) {
    throw new RangeError(`hyperRule: trainSize must be a positive integer, got ${trainSize}`);
  }
  const [h, w] = typeof options.imageSize === 'number' ? [options.imageSize, options.imageSize] : options.imageSize;
  if (!(Number.isFinite(h) && Number.isFinite(w) && h! > 0 && w! > 0)) {
    throw new RangeError(`hyperRule: imageSize must be positive, got ${JSON.stringify(options.imageSize)}`);
  }
  const resolution = options.resolution ?? 'code';
  if (resolution !== 'code' && resolution !== 'paper') {
    throw new RangeError(`hyperRule: resolution must be 'code' or 'paper', got ${String(resolution)}`);
  }
  const small = h! * w! < 96 * 96;
  const [resize, crop] = small ? [160, 128] : resolution === 'code' ? [512, 480] : [448, 384];
  const baseLr = options.baseLr ?? 0.003;
  if (!(Number.isFinite(baseLr) && baseLr > 0)) throw new RangeError(`hyperRule: baseLr must be > 0, got ${baseLr}`);
  const batchSize = options.batchSize ?? 512;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`hyperRule: batchSize must be a positive integer, got ${batchSize}`);
  const stepsScale = options.stepsScale ?? 1;
  if (!(Number.isFinite(stepsScale) && stepsScale > 0)) throw new RangeError(`hyperRule: stepsScale must be > 0, got ${stepsScale}`);
  const boundaries: number[] = [];
  for (const b of hyperRuleBoundaries(trainSize)) {
    const scaled = Math.max(1, Math.round(b * stepsScale));
    boundaries.push(boundaries.length && scaled <= boundaries[boundaries.length - 1]! ? boundaries[boundaries.length - 1]! + 1 : scaled);
  }
  const schedule = (step: number): number | null => {
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
