import { type Distiller, adam as kdAdam, type LabeledData } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Results } from './common';

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

export type Store = ReturnType<Results['checkpoint']>;

/** Adam 1e-3 optimizers of one seed, disposed together. */
export class Optimizers {
  private readonly made: tf.Optimizer[] = [];
  next(): tf.Optimizer {
    const o = kdAdam({ learningRate: 1e-3 });
    this.made.push(o);
    return o;
  }
  dispose(): void {
    for (const o of this.made) o.dispose();
  }
}

/** One seeded training run of a Distiller, resumable through the arm's checkpoint store. */
export function fitWith(distiller: Distiller, data: LabeledData, epochs: number, batchSize: number) {
  return (store: Store) => distiller.fit(data, { epochs, batchSize, checkpoint: store, resume: true });
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

/**
 * The class-correlation matrix of logits: entry (i, j) is the Pearson correlation over the
 * examples of logit column i with column j (ones on the diagonal; a constant column correlates
 * with nothing). The CRD paper's Fig. 3 compares the teacher's matrix with the student's.
 */
export function classCorrelation(logits: readonly (readonly number[])[]): number[][] {
  const n = logits.length;
  const k = logits[0]?.length ?? 0;
  const mean = new Array<number>(k).fill(0);
  for (const r of logits) for (let c = 0; c < k; c++) mean[c]! += r[c]! / n;
  const cov = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (const r of logits) {
    for (let i = 0; i < k; i++) {
      const di = r[i]! - mean[i]!;
      for (let j = i; j < k; j++) cov[i]![j]! += di * (r[j]! - mean[j]!);
    }
  }
  return Array.from({ length: k }, (_, i) =>
    Array.from({ length: k }, (_, j) => {
      if (i === j) return 1;
      const [a, b] = i < j ? [i, j] : [j, i];
      const scale = Math.sqrt(cov[a]![a]! * cov[b]![b]!);
      return scale > 0 ? Math.max(-1, Math.min(1, cov[a]![b]! / scale)) : 0;
    }),
  );
}

/** Teacher − student class correlation, entry by entry, and its mean |Δ| over the off-diagonal entries. */
export function correlationDifference(
  teacherLogits: readonly (readonly number[])[],
  studentLogits: readonly (readonly number[])[],
): { difference: number[][]; meanAbsolute: number } {
  const t = classCorrelation(teacherLogits);
  const s = classCorrelation(studentLogits);
  const k = t.length;
  let sum = 0;
  const difference = t.map((r, i) =>
    r.map((v, j) => {
      const d = v - s[i]![j]!;
      if (i !== j) sum += Math.abs(d);
      return d;
    }),
  );
  return { difference, meanAbsolute: k > 1 ? sum / (k * (k - 1)) : 0 };
}
