import { type LabeledData, SeededRandom } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';

function count(data: LabeledData, what: string): number {
  if (data == null || !(data.x instanceof tf.Tensor) || !(data.y instanceof tf.Tensor)) {
    throw new TypeError(`${what}: expected { x: Tensor, y: Tensor1D }`);
  }
  const n = data.x.shape[0] ?? 0;
  if (data.y.shape[0] !== n) {
    throw new RangeError(`${what}: x has ${n} examples but y has ${data.y.shape[0]} labels`);
  }
  return n;
}

/** The examples of `data` at `indices`, in that order (new tensors; the caller disposes them). */
export function take(data: LabeledData, indices: Int32Array | readonly number[]): LabeledData {
  return tf.tidy(() => {
    const index = tf.tensor1d(Int32Array.from(indices), 'int32');
    return {
      x: tf.gather(data.x, index),
      y: tf.gather(data.y, index) as tf.Tensor1D,
      ...(data.teacherX ? { teacherX: tf.gather(data.teacherX, index) } : {}),
    };
  });
}

/**
 * A seeded random subset of `count` examples (without replacement, in random order). Same seed,
 * same subset. New tensors: the caller disposes them (and `data`).
 */
export function subset(data: LabeledData, count_: number, seed = 0): LabeledData {
  const n = count(data, 'subset');
  if (!Number.isInteger(count_) || count_ < 1 || count_ > n) {
    throw new RangeError(`subset: count must be an integer in [1, ${n}], got ${count_}`);
  }
  return take(data, new SeededRandom(seed).permutation(n).subarray(0, count_));
}

/** Result of {@link trainValidationSplit}. */
export interface TrainValidationSplit {
  readonly train: LabeledData;
  readonly validation: LabeledData;
}

/**
 * Splits `data` at random (seeded) into a training part and a validation part holding
 * `round(fraction * N)` examples. Both parts are new tensors: the caller disposes them.
 */
export function trainValidationSplit(data: LabeledData, fraction: number, seed = 0): TrainValidationSplit {
  const n = count(data, 'trainValidationSplit');
  if (!(Number.isFinite(fraction) && fraction > 0 && fraction < 1)) {
    throw new RangeError(`trainValidationSplit: fraction must be in (0, 1), got ${fraction}`);
  }
  const nValidation = Math.round(fraction * n);
  if (nValidation < 1 || nValidation > n - 1) {
    throw new RangeError(
      `trainValidationSplit: fraction ${fraction} of ${n} examples leaves ${nValidation} for validation and ${n - nValidation} for training; both need at least one`,
    );
  }
  const order = new SeededRandom(seed).permutation(n);
  return {
    validation: take(data, order.subarray(0, nValidation)),
    train: take(data, order.subarray(nValidation)),
  };
}
