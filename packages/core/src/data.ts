import * as tf from '@tensorflow/tfjs-core';
import type { Batch, LabeledData } from './batch';
import { DistillationError } from './errors';

/**
 * Checks a data set before any work: matching example counts, 1-D integer labels in
 * `[0, numClasses)`, at least one example, input shape matching the model's, no NaN or Infinity
 * in the inputs. Returns the labels.
 */
export function validateData(data: LabeledData, what: string, numClasses: number, inputShape?: readonly (number | null)[]): Int32Array {
  checkDataShapes(data, what, inputShape);
  checkFinite(data, what);
  return readLabels(data, what, numClasses);
}

/** The structural checks of {@link validateData}: tensors, counts, ranks, the input shape. */
export function checkDataShapes(data: LabeledData, what: string, inputShape?: readonly (number | null)[]): void {
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
  if (data.teacherX !== undefined && !(data.teacherX instanceof tf.Tensor)) {
    throw new DistillationError('bad-data', `${what}: teacherX must be a tf.Tensor`);
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
}

/** Throws `non-finite-input` naming the tensor and the first example holding NaN or Infinity. */
export function checkFinite(data: LabeledData, what: string): void {
  for (const [name, tensor] of [
    ['x', data.x],
    ['teacherX', data.teacherX],
  ] as const) {
    const first = firstNonFinite(tensor);
    if (tensor && first >= 0) {
      const bad = tf.tidy(() => tf.reshape(tf.slice(tensor, first, 1), [-1]).dataSync());
      const at = bad.findIndex((v) => !Number.isFinite(v));
      throw new DistillationError(
        'non-finite-input',
        `${what}: ${name}[${first}] holds ${bad[at]} (at flat position ${at}); every input must be finite`,
      );
    }
  }
}

/**
 * The first example (row of the first axis) of a float tensor holding NaN or Infinity, or -1
 * (also for an absent or integer tensor).
 */
export function firstNonFinite(tensor: tf.Tensor | undefined): number {
  if (tensor?.dtype !== 'float32') return -1;
  const n = tensor.shape[0]!;
  const ok = tf.tidy(() => tf.all(tf.isFinite(tf.reshape(tensor, [n, -1])), 1).dataSync());
  return ok.findIndex((v) => !v);
}

/** The labels as integers, each checked to be a class in `[0, numClasses)`. */
export function readLabels(data: LabeledData, what: string, numClasses: number): Int32Array {
  const n = data.x.shape[0]!;
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
      y: (data.y.dtype === 'int32' ? tf.gather(data.y, index) : tf.cast(tf.gather(data.y, index), 'int32')) as tf.Tensor1D,
      index,
      ...(data.teacherX ? { teacherX: tf.gather(data.teacherX, index) } : {}),
    };
  });
}
