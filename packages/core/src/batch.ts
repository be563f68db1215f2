import type * as tf from '@tensorflow/tfjs-core';

/**
 * One training batch as the plugins see it.
 *
 * `index` carries each example's position in the training data, so methods with per-example
 * state (CRD's memory bank) can address it. `teacherX` is the teacher's input when teacher and
 * student see different inputs (cross-modal distillation); when absent both see `x`.
 */
export interface Batch {
  /** Student input `[batch, ...]`. */
  readonly x: tf.Tensor;
  /** Integer class labels `[batch]` (int32). */
  readonly y: tf.Tensor1D;
  /** Index of each example in the training data `[batch]` (int32): its position in `[0, N)`. */
  readonly index: tf.Tensor1D;
  /** Each example's stable id (a `DataSource`'s ids; the positions for in-memory tensors). */
  readonly ids?: readonly (number | string)[];
  /** Teacher input when it differs from the student's (paired modalities). */
  readonly teacherX?: tf.Tensor;
  /**
   * Soft label targets `[batch, classes]` (one distribution per example) when a transform set
   * them: MixUp, label smoothing, CutMix. `y` then still holds the original integer labels.
   * Every plugin that reads labels declares what it does with targets (`DistillationPlugin.labels`):
   * use them, or have the Distiller refuse such a batch.
   */
  readonly targets?: tf.Tensor2D;
  /** @deprecated Renamed to {@link Batch.targets}; read only as a fallback. */
  readonly yMixed?: tf.Tensor2D;
}

/**
 * A labelled data set held in memory. Example `i` is `x[i]` with label `y[i]`; its index in a
 * {@link Batch} is `i`.
 */
export interface LabeledData {
  /** Inputs `[N, ...]`. */
  readonly x: tf.Tensor;
  /** Integer class labels `[N]`. */
  readonly y: tf.Tensor1D;
  /** Optional teacher inputs `[N, ...]` (a second modality of the same examples). */
  readonly teacherX?: tf.Tensor;
}
