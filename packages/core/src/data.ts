import * as tf from '@tensorflow/tfjs-core';
import type { Batch, LabeledData } from './batch';
import { DistillationError } from './errors';

/**
 * Checks a data set before any work: matching example counts, 1-D integer labels in
 * `[0, numClasses)`, at least one example, input shape matching the model's. Returns the labels.
 */
export function validateData(
  data: LabeledData,
  what: string,
  numClasses: number,
  inputShape?: readonly (number | null)[],
): Int32Array {
  if (data == null || !(data.x instanceof tf.Tensor) || !(data.y instanceof tf.Tensor)) {
    throw new DistillationError('bad-data', `${what}: expected { x: Tensor, y: Tensor1D } of examples and labels`);
  }
  const n = data.x.shape[0] ?? 0;
  if (data.x.rank < 1 || n === 0) {
    throw new DistillationError('empty-data', `${what} is empty: x has shape [${data.x.shape}]`);
  }
  if (data.y.rank !== 1) {
    throw new DistillationError(
      'bad-labels',
      `${what}: y must be 1-D integer class labels [N]; got shape [${data.y.shape}] (one-hot labels: use tf.argMax(y, 1))`,
    );
  }
  if (data.y.shape[0] !== n) {
    throw new DistillationError('bad-data', `${what}: x has ${n} examples but y has ${data.y.shape[0]} labels`);
  }
  if (data.teacherX && data.teacherX.shape[0] !== n) {
    throw new DistillationError('bad-data', `${what}: x has ${n} examples but teacherX has ${data.teacherX.shape[0]}`);
  }
  if (inputShape) {
    const expected = inputShape.slice(1);
    const actual = data.x.shape.slice(1);
    const mismatch = expected.length !== actual.length || expected.some((d, i) => d != null && d !== actual[i]);
    if (mismatch) {
      throw new DistillationError(
        'bad-input-shape',
        `${what}: x has example shape [${actual}] but the student expects [${expected.map(String)}]`,
      );
    }
  }
  const labels = data.y.dataSync();
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = labels[i]!;
    if (!Number.isInteger(label) || label < 0 || label >= numClasses) {
      throw new DistillationError(
        'label-out-of-range',
        `${what}: label y[${i}] = ${label} is not an integer class in [0, ${numClasses}) (the model has ${numClasses} classes)`,
      );
    }
    out[i] = label;
  }
  return out;
}

/** Gathers the examples at `indices` into a batch (caller disposes). */
export function gatherBatch(data: LabeledData, indices: Int32Array): Batch {
  return tf.tidy(() => {
    const index = tf.tensor1d(indices, 'int32');
    return {
      x: tf.gather(data.x, index),
      y: tf.cast(tf.gather(data.y, index), 'int32') as tf.Tensor1D,
      index,
      ...(data.teacherX ? { teacherX: tf.gather(data.teacherX, index) } : {}),
    };
  });
}
