import {
  type Batch,
  DistillationError,
  type DistillationPlugin,
  definePlugin,
  type LabeledData,
  optionsSchema,
  parseOptions,
  type SeededRandom,
} from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { BitError } from './errors';
import type { HyperRule } from './hyperrule';
import { integer, isLabeledData, nonNegative } from './schemas';

/** Throws core's `bad-option` unless `random` is a SeededRandom (or has its `next` and `int`). */
function checkRandom(random: SeededRandom, what: string): void {
  if (random === null || typeof random !== 'object' || typeof random.next !== 'function' || typeof random.int !== 'function') {
    throw new DistillationError(
      'bad-option',
      `${what}: random must be a SeededRandom (in a plugin, the step's context.random), got ${String(random)}`,
    );
  }
}

/** Standard normal draw from a seeded source (Box-Muller). */
function normal(random: SeededRandom): number {
  let u = 0;
  while (u === 0) u = random.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.next());
}

/** Gamma(shape, 1) draw (Marsaglia-Tsang; boosted for shape < 1). */
export function sampleGamma(shape: number, random: SeededRandom): number {
  if (!(Number.isFinite(shape) && shape > 0))
    throw new DistillationError('bad-option', `sampleGamma: shape must be a finite number > 0, got ${shape}`);
  checkRandom(random, 'sampleGamma');
  if (shape < 1) {
    let u = 0;
    while (u === 0) u = random.next();
    return sampleGamma(shape + 1, random) * u ** (1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(random);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = random.next();
    if (u < 1 - 0.0331 * x ** 4) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** Beta(a, b) draw from two Gamma draws. */
export function sampleBeta(a: number, b: number, random: SeededRandom): number {
  const x = sampleGamma(a, random);
  const y = sampleGamma(b, random);
  return x + y === 0 ? 0.5 : x / (x + y);
}

/** Options of {@link mixup}. */
export interface MixupOptions {
  /** lambda ~ Beta(alpha, alpha); alpha 0 turns MixUp off (BiT: 0 below 20 000 examples, else 0.1). */
  readonly alpha: number;
}

/** Schema of {@link MixupOptions}. */
export const mixupSchema = optionsSchema<MixupOptions>()({
  alpha: nonNegative,
});

/**
 * MixUp (Zhang et al. 2018) as BiT applies it: one lambda ~ Beta(alpha, alpha) per batch from the
 * run's seeded random source, pairs by a random permutation of the batch,
 * `x = lambda*x + (1 - lambda)*x[perm]` and soft labels
 * `targets = lambda*onehot(y) + (1 - lambda)*onehot(y[perm])` (soft label targets, used by `hardLabel`). `teacherX` is
 * mixed the same way, so teacher and student see the same mixed batch ("consistent teaching").
 * Put it after the preprocessing plugin.
 */
export function mixup(options: MixupOptions): DistillationPlugin<{ numClasses: number }> {
  const { alpha } = parseOptions(mixupSchema, options, 'mixup');
  return definePlugin<{ numClasses: number }>({
    name: 'mixup',
    label: `mixup(a=${alpha})`,
    changesTeacherInput: alpha > 0,
    setup: ({ numClasses }) => ({ numClasses }),
    transformBatch(batch, { state, random }) {
      if (alpha === 0) return batch;
      const lambda = sampleBeta(alpha, alpha, random);
      const n = batch.x.shape[0]!;
      const perm = tf.tensor1d(random.permutation(n), 'int32');
      const mix = (t: tf.Tensor): tf.Tensor => tf.add(tf.mul(t, lambda), tf.mul(tf.gather(t, perm), 1 - lambda));
      const soft = batch.targets ?? batch.yMixed ?? (tf.oneHot(tf.cast(batch.y, 'int32') as tf.Tensor1D, state.numClasses) as tf.Tensor2D);
      return {
        ...batch,
        x: mix(batch.x),
        ...(batch.teacherX ? { teacherX: mix(batch.teacherX) } : {}),
        targets: mix(tf.cast(soft, 'float32')) as tf.Tensor2D,
      };
    },
  });
}

/** Options of {@link bitPreprocess} and {@link bitEvalPreprocess}. */
export interface PreprocessOptions {
  /** Square resize before the random crop (HyperRule `resize`). */
  readonly resize: number;
  /** Crop size (HyperRule `crop`). */
  readonly crop: number;
  /** Random horizontal flips. Default true. */
  readonly flip?: boolean;
  /** Range of the raw inputs, mapped linearly to [-1, 1]. Default [0, 1]. */
  readonly inputRange?: readonly [number, number];
}

const preprocessShape = {
  resize: integer(1),
  crop: integer(1),
  flip: z.boolean().default(true),
  inputRange: z
    .tuple([z.number(), z.number()], { message: 'must be [lo, hi]' })
    .refine(([lo, hi]) => hi > lo, { message: 'must be [lo, hi] with hi > lo' })
    .default([0, 1]),
};

/** Schema of {@link PreprocessOptions} (defaults applied), for every BiT preprocessing function. */
export const bitPreprocessSchema = optionsSchema<PreprocessOptions>()(preprocessShape);

/** Options of {@link bitEvalPreprocess}. */
export interface EvalPreprocessOptions extends PreprocessOptions {
  /** Images preprocessed per chunk. Default 256. */
  readonly batchSize?: number;
}

/** Schema of {@link EvalPreprocessOptions} (defaults applied). */
export const bitEvalPreprocessSchema = optionsSchema<EvalPreprocessOptions>()({ ...preprocessShape, batchSize: integer(1).default(256) });

type ParsedPreprocess = z.output<typeof bitPreprocessSchema>;

/** Parses preprocessing options; `crop-exceeds-resize` when the crop is larger than the resize. */
function check(options: PreprocessOptions, what: string): ParsedPreprocess {
  const parsed = parseOptions(bitPreprocessSchema, options, what);
  checkCrop(parsed, what);
  return parsed;
}

function checkCrop(options: { resize: number; crop: number }, what: string): void {
  if (options.crop > options.resize) {
    throw new BitError(
      'crop-exceeds-resize',
      `${what}: crop ${options.crop} is larger than resize ${options.resize}; need 1 <= crop <= resize`,
    );
  }
}

function checkImages(x: tf.Tensor, what: string): void {
  if (!(x instanceof tf.Tensor) || x.rank !== 4) {
    const got = x instanceof tf.Tensor ? `shape [${x.shape}]` : x === null ? 'null' : typeof x;
    throw new BitError('bad-images', `${what}: expected images [N, H, W, C] as a tf.Tensor, got ${got}`);
  }
}

function toUnitRange(x: tf.Tensor, range: readonly [number, number]): tf.Tensor {
  const [lo, hi] = range;
  return tf.sub(tf.mul(tf.sub(x, lo), 2 / (hi - lo)), 1);
}

function resizeTo(x: tf.Tensor4D, size: number): tf.Tensor4D {
  return x.shape[1] === size && x.shape[2] === size ? x : tf.image.resizeBilinear(x, [size, size]);
}

/**
 * BiT's training preprocessing of a batch `[B, H, W, C]`: square resize to `resize`, an
 * independent random `crop` x `crop` window and (by default) a random horizontal flip per example,
 * then inputs mapped from `inputRange` to [-1, 1]. All randomness from `random`.
 */
export function preprocessTrainBatch(x: tf.Tensor, options: PreprocessOptions, random: SeededRandom): tf.Tensor4D {
  return trainBatch(x, check(options, 'preprocessTrainBatch'), random, 'preprocessTrainBatch');
}

function trainBatch(x: tf.Tensor, options: ParsedPreprocess, random: SeededRandom, what: string): tf.Tensor4D {
  checkImages(x, what);
  checkRandom(random, what);
  return tf.tidy(() => {
    const resized = resizeTo(x as tf.Tensor4D, options.resize);
    const n = resized.shape[0];
    const c = resized.shape[3];
    const span = options.resize - options.crop + 1;
    const crops: tf.Tensor4D[] = [];
    for (let i = 0; i < n; i++) {
      let crop = tf.slice(resized, [i, random.int(span), random.int(span), 0], [1, options.crop, options.crop, c]);
      if (options.flip && random.next() < 0.5) crop = tf.reverse(crop, 2);
      crops.push(crop);
    }
    return toUnitRange(n === 1 ? crops[0]! : tf.concat(crops, 0), options.inputRange) as tf.Tensor4D;
  });
}

/** BiT's evaluation preprocessing: resize straight to `crop`, inputs to [-1, 1]. */
export function preprocessEvalBatch(x: tf.Tensor, options: PreprocessOptions): tf.Tensor4D {
  return evalBatch(x, check(options, 'preprocessEvalBatch'), 'preprocessEvalBatch');
}

function evalBatch(x: tf.Tensor, options: { crop: number; inputRange: readonly [number, number] }, what: string): tf.Tensor4D {
  checkImages(x, what);
  return tf.tidy(() => toUnitRange(resizeTo(x as tf.Tensor4D, options.crop), options.inputRange) as tf.Tensor4D);
}

/**
 * The training preprocessing as a `transformBatch` plugin (use it first, before {@link mixup}).
 * `teacherX`, when present, gets the same crops and flips (one draw per example), so teacher and
 * student see the same view.
 */
export function bitPreprocess(input: PreprocessOptions): DistillationPlugin<void> {
  const options = check(input, 'bitPreprocess');
  return definePlugin<void>({
    name: 'bit-preprocess',
    label: `bit-preprocess(${options.resize}->${options.crop})`,
    changesTeacherInput: true,
    transformBatch(batch: Batch, { random }): Batch {
      if (!batch.teacherX) return { ...batch, x: trainBatch(batch.x, options, random, 'bitPreprocess') };
      // Same draws for both inputs: replay the generator.
      const state = random.getState();
      const x = trainBatch(batch.x, options, random, 'bitPreprocess');
      const after = random.getState();
      random.setState(state);
      const teacherX = trainBatch(batch.teacherX, options, random, 'bitPreprocess');
      random.setState(after);
      return { ...batch, x, teacherX };
    },
  });
}

/** Whether `value` looks like a {@link HyperRule} (as `hyperRule()` returns, possibly spread with overrides). */
export function isHyperRule(value: unknown): value is HyperRule {
  const r = value as HyperRule | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.schedule === 'function' &&
    typeof r.learningRate === 'function' &&
    Array.isArray(r.boundaries) &&
    typeof r.resize === 'number' &&
    typeof r.crop === 'number'
  );
}

/**
 * Evaluation copy of a data set: every image resized to `crop` and mapped to [-1, 1], in chunks
 * of `batchSize`. New tensors (the labels too): the caller disposes them. `options` may also be a
 * {@link HyperRule}: its `resize` and `crop` are used (other defaults as above).
 */
export function bitEvalPreprocess(data: LabeledData, options: EvalPreprocessOptions | HyperRule): LabeledData {
  const input = isHyperRule(options) ? { resize: options.resize, crop: options.crop } : options;
  const parsed = parseOptions(bitEvalPreprocessSchema, input, 'bitEvalPreprocess');
  checkCrop(parsed, 'bitEvalPreprocess');
  if (!isLabeledData(data)) {
    throw new DistillationError('bad-data', 'bitEvalPreprocess: expected { x: Tensor, y: Tensor1D } with one label per example');
  }
  checkImages(data.x, 'bitEvalPreprocess');
  const n = data.x.shape[0]!;
  if (n === 0) throw new DistillationError('empty-data', 'bitEvalPreprocess: the data set has no examples');
  const size = parsed.batchSize;
  const parts: tf.Tensor[] = [];
  for (let i = 0; i < n; i += size) {
    parts.push(tf.tidy(() => evalBatch(tf.slice(data.x, i, Math.min(size, n - i)), parsed, 'bitEvalPreprocess')));
  }
  const x = parts.length === 1 ? parts[0]! : tf.concat(parts, 0);
  if (parts.length > 1) tf.dispose(parts);
  return { x, y: tf.clone(data.y) };
}
