import { DistillationError, type LabeledData, optionsSchema, parseOptions, SeededRandom } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { DataError } from './errors';
import { integer, openFraction, seedSchema } from './schemas';

/** Number of examples of `data`; throws core's `bad-data` unless it is `{ x, y }` tensors with one label per example. */
function count(data: LabeledData, what: string): number {
  if (data == null || !(data.x instanceof tf.Tensor) || !(data.y instanceof tf.Tensor)) {
    throw new DistillationError('bad-data', `${what}: expected { x: Tensor, y: Tensor1D }`);
  }
  if (data.x.rank < 1) throw new DistillationError('bad-data', `${what}: x must have an example axis, got a scalar`);
  const n = data.x.shape[0]!;
  if (data.y.shape[0] !== n) {
    throw new DistillationError('bad-data', `${what}: x has ${n} examples but y has ${data.y.shape[0]} labels`);
  }
  if (data.teacherX !== undefined && (!(data.teacherX instanceof tf.Tensor) || data.teacherX.shape[0] !== n)) {
    throw new DistillationError('bad-data', `${what}: teacherX must be a tf.Tensor with ${n} examples`);
  }
  return n;
}

/** The examples of `data` at `indices`, in that order (new tensors; the caller disposes them). */
export function take(data: LabeledData, indices: Int32Array | readonly number[]): LabeledData {
  const n = count(data, 'take');
  if (indices == null || typeof (indices as ArrayLike<number>).length !== 'number' || typeof indices === 'string') {
    throw new DataError('bad-indices', `take: indices must be an array or Int32Array of example indices, got ${String(indices)}`);
  }
  for (let i = 0; i < indices.length; i++) {
    const k = indices[i]!;
    if (!Number.isInteger(k) || k < 0 || k >= n) {
      throw new DataError('bad-indices', `take: index ${i} is ${k}, not an integer example index in [0, ${n})`);
    }
  }
  return tf.tidy(() => {
    const index = tf.tensor1d(Int32Array.from(indices), 'int32');
    return {
      x: tf.gather(data.x, index),
      y: tf.gather(data.y, index) as tf.Tensor1D,
      ...(data.teacherX ? { teacherX: tf.gather(data.teacherX, index) } : {}),
    };
  });
}

/** Options of {@link subset}. */
export interface SubsetOptions {
  /** Number of examples to keep: an integer in [1, N]. */
  readonly count: number;
  /** Seed of the draw. Default 0. */
  readonly seed?: number;
}

/** Schema of {@link SubsetOptions} (defaults applied). */
export const subsetSchema = optionsSchema<SubsetOptions>()({
  count: integer(1),
  seed: seedSchema.default(0),
});

/** `{ ...options }` from the positional or the options form of a call. */
function optionsOf<T>(first: unknown, seed: number | undefined, key: string, where: string): T {
  if (typeof first === 'object' && first !== null) {
    if (seed !== undefined) {
      throw new DistillationError('bad-option', `${where}: pass seed inside the options object, not as a third argument`);
    }
    return first as T;
  }
  return { [key]: first, ...(seed === undefined ? {} : { seed }) } as T;
}

/**
 * A seeded random subset of `count` examples (without replacement, in random order). Same seed,
 * same subset. New tensors: the caller disposes them (and `data`). Also `subset(data, { count, seed })`.
 */
export function subset(data: LabeledData, count_: number | SubsetOptions, seed?: number): LabeledData {
  const options = parseOptions(subsetSchema, optionsOf(count_, seed, 'count', 'subset'), 'subset');
  const n = count(data, 'subset');
  if (options.count > n) {
    throw new DistillationError(
      'bad-option',
      `subset: option "count" must be an integer in [1, ${n}] (the examples of the data), got ${options.count}`,
    );
  }
  return take(data, new SeededRandom(options.seed).permutation(n).subarray(0, options.count));
}

/** Options of {@link trainValidationSplit}. */
export interface TrainValidationSplitOptions {
  /** Share of the examples held out for validation, in (0, 1). */
  readonly fraction: number;
  /** Seed of the split. Default 0. */
  readonly seed?: number;
}

/** Schema of {@link TrainValidationSplitOptions} (defaults applied). */
export const trainValidationSplitSchema = optionsSchema<TrainValidationSplitOptions>()({
  fraction: openFraction,
  seed: seedSchema.default(0),
});

/** Result of {@link trainValidationSplit}. */
export interface TrainValidationSplit {
  readonly train: LabeledData;
  readonly validation: LabeledData;
}

/**
 * Splits `data` at random (seeded) into a training part and a validation part holding
 * `round(fraction * N)` examples. Both parts are new tensors: the caller disposes them. Also
 * `trainValidationSplit(data, { fraction, seed })`. Throws `empty-split` when either part would be
 * empty.
 */
export function trainValidationSplit(
  data: LabeledData,
  fraction: number | TrainValidationSplitOptions,
  seed?: number,
): TrainValidationSplit {
  const options = parseOptions(
    trainValidationSplitSchema,
    optionsOf(fraction, seed, 'fraction', 'trainValidationSplit'),
    'trainValidationSplit',
  );
  const n = count(data, 'trainValidationSplit');
  const nValidation = Math.round(options.fraction * n);
  if (nValidation < 1 || nValidation > n - 1) {
    throw new DataError(
      'empty-split',
      `trainValidationSplit: fraction ${options.fraction} of ${n} examples leaves ${nValidation} for validation and ${n - nValidation} for training; both need at least one`,
    );
  }
  const order = new SeededRandom(options.seed).permutation(n);
  return {
    validation: take(data, order.subarray(0, nValidation)),
    train: take(data, order.subarray(nValidation)),
  };
}
