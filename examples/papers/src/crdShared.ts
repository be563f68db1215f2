import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

// ---------------------------------------------------------------------------------------------
// Shared pieces of the CRD experiments (crdEnsemble, correlation, crossModal)
// ---------------------------------------------------------------------------------------------

/** The CRD settings every CRD arm of these experiments uses (RepDistiller's CRD: `1 ce + 0.8 crd`). */
export interface CrdArmConfig {
  /** Negatives K per anchor (reference class-aware sampling); must be below the transfer set's size. */
  readonly negatives: number;
  /** Embedding size of the CRD heads. */
  readonly featureDim: number;
  /** Weight of the contrastive term (total, over the teachers for CRD-EN). */
  readonly crdWeight: number;
  /** Temperature of the KD arms (`0.1 ce + 0.9 kd(T)`, RepDistiller's KD). */
  readonly temperature: number;
}

/** The sizes both CRD experiments share: an MLP teacher trained on `trainSize` images, MLP students on a `transferSize` subset. */
export interface TeacherStudentSizes extends CrdArmConfig {
  /** Examples the teachers train on (drawn per seed from Fashion-MNIST's 60 000). */
  readonly trainSize: number;
  readonly testSize: number;
  /** Examples the students train on: a seeded subset of the teachers' training set. */
  readonly transferSize: number;
  readonly teacherHidden: readonly number[];
  /** Dropout after each hidden layer of the teachers (seeded). */
  readonly teacherDropout: number;
  readonly studentHidden: readonly number[];
  readonly teacherEpochs: number;
  readonly studentEpochs: number;
  readonly batchSize: number;
}

/** Logits of `model` on `x`, one row per example, computed in batches of 1000. */
export function logitsOf(model: tfl.LayersModel, x: tf.Tensor): number[][] {
  const n = x.shape[0]!;
  const rows: number[][] = [];
  for (let start = 0; start < n; start += 1000) {
    const part = tf.tidy(() => model.predict(tf.slice(x, start, Math.min(1000, n - start))) as tf.Tensor2D);
    rows.push(...(part.arraySync() as number[][]));
    part.dispose();
  }
  return rows;
}
