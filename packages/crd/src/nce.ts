import { DistillationError } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { CrdError } from './errors';
import { gatherRows } from './rows';

/** RepDistiller's eps in the NCE loss. */
export const NCE_EPS = 1e-7;

/** How per-anchor (reference) contrast scores are computed; both give the same values. */
export type ScoringStrategy = 'gather' | 'dense';

/**
 * Contrast logits `score / T` of one side, split into the positive column `[B, 1]` and the
 * negatives `[B, K]` (kept apart so no op has to slice a `[B, K+1]` tensor, slow on cpu).
 */
export interface ContrastLogits {
  readonly positive: tf.Tensor2D;
  readonly negative: tf.Tensor2D;
}

/**
 * Per-anchor contrast logits (reference layout): `bank[idx[b, j]] . v[b] / T`, positive = column 0
 * of each row of `contrast` (`[B * (K+1)]`, row-major). `bank` rows are constants for the gradient.
 *
 * - `'gather'` gathers the `[B, K, d]` negative rows and does a batched matmul, like the reference
 *   (memory `4*B*K*d` bytes per side: ~0.5 GB at B=64, K=16384, d=128).
 * - `'dense'` scores every bank row, `[B, N] = v @ bank^T`, and picks K per anchor (memory `4*B*N`,
 *   compute `B*N*d`); same values up to float rounding.
 */
export function contrastLogits(
  bank: tf.Tensor2D,
  anchors: tf.Tensor2D,
  contrast: Int32Array,
  temperature: number,
  strategy: ScoringStrategy = 'gather',
): ContrastLogits {
  checkTemperature(temperature, 'contrastLogits');
  if (strategy !== 'gather' && strategy !== 'dense') {
    throw new DistillationError('bad-option', `contrastLogits: strategy must be 'gather' or 'dense', got ${String(strategy)}`);
  }
  const b = anchors.shape[0];
  const [n, d] = bank.shape;
  if (anchors.rank !== 2 || anchors.shape[1] !== d) {
    throw new CrdError('feature-dim-mismatch', `CRD scores: anchors are [${anchors.shape}] but bank rows have ${d} values`);
  }
  if (b === 0 || contrast.length % b !== 0 || contrast.length / b < 2) {
    throw new CrdError('bad-contrast', `CRD scores: ${contrast.length} contrast indices do not form [${b}, K+1] rows with K >= 1`);
  }
  const cols = contrast.length / b;
  const k = cols - 1;
  const positives = new Int32Array(b);
  const negatives = new Int32Array(b * k);
  for (let i = 0; i < b; i++) {
    positives[i] = contrast[i * cols]!;
    negatives.set(contrast.subarray(i * cols + 1, (i + 1) * cols), i * k);
  }
  return tf.tidy(() => {
    const scale = 1 / temperature;
    const positive = tf.mul(tf.sum(tf.mul(gatherRows(bank, positives), anchors), 1, true), scale) as tf.Tensor2D;
    let dots: tf.Tensor2D;
    if (strategy === 'dense') {
      const flat = new Int32Array(b * k);
      for (let i = 0; i < b * k; i++) flat[i] = Math.floor(i / k) * n + negatives[i]!;
      dots = denseDots(bank, flat, b, k)(anchors);
    } else {
      const rows = tf.reshape(gatherRows(bank, negatives), [b, k, d]) as tf.Tensor3D;
      dots = tf.reshape(tf.matMul(rows, tf.expandDims(anchors, 2) as tf.Tensor3D), [b, k]);
    }
    return { positive, negative: tf.mul(dots, scale) as tf.Tensor2D };
  });
}

/**
 * Contrast logits of the shared-negatives variant: positive `bank[pos_b] . v_b / T` `[B, 1]`,
 * negatives `v @ bank[shared]^T / T` `[B, K]` for ONE set of K rows (one matmul).
 */
export function sharedContrastLogits(
  bank: tf.Tensor2D,
  anchors: tf.Tensor2D,
  positives: Int32Array,
  negatives: Int32Array,
  temperature: number,
): ContrastLogits {
  checkTemperature(temperature, 'sharedContrastLogits');
  if (anchors.rank !== 2 || anchors.shape[1] !== bank.shape[1]) {
    throw new CrdError('feature-dim-mismatch', `CRD scores: anchors are [${anchors.shape}] but bank rows have ${bank.shape[1]} values`);
  }
  if (positives.length !== anchors.shape[0] || negatives.length === 0) {
    throw new CrdError(
      'bad-contrast',
      `CRD scores: ${positives.length} positives for ${anchors.shape[0]} anchors, ${negatives.length} negatives`,
    );
  }
  return tf.tidy(() => {
    const scale = 1 / temperature;
    const positive = tf.mul(tf.sum(tf.mul(gatherRows(bank, positives), anchors), 1, true), scale) as tf.Tensor2D;
    const negative = tf.mul(tf.matMul(anchors, gatherRows(bank, negatives), false, true), scale) as tf.Tensor2D;
    return { positive, negative };
  });
}

/**
 * Contrast logits of queue mode, one side: positive `v_b . p_b / T` `[B, 1]`, where `p_b` is the
 * OTHER side's embedding of the same example in this step (a constant for the gradient, as a bank
 * row or MoCo's key is), and negatives `v @ queue[negatives]^T / T` `[B, K]` for ONE set of K
 * entries shared by the batch (one matmul; the queue itself when `negatives` is `0..K-1`).
 *
 * @param queue the other side's queue `[K, d]` (constants for the gradient).
 * @param anchors this side's embeddings `[B, d]`.
 * @param positives the other side's embeddings of the same examples `[B, d]`.
 * @param negatives `[K]` positions into `queue` (from `queueNegatives`).
 */
export function queueContrastLogits(
  queue: tf.Tensor2D,
  anchors: tf.Tensor2D,
  positives: tf.Tensor2D,
  negatives: Int32Array,
  temperature: number,
): ContrastLogits {
  checkTemperature(temperature, 'queueContrastLogits');
  const d = queue.shape[1];
  if (anchors.rank !== 2 || anchors.shape[1] !== d) {
    throw new CrdError('feature-dim-mismatch', `CRD (queue) scores: anchors are [${anchors.shape}] but queue entries have ${d} values`);
  }
  if (positives.rank !== 2 || positives.shape[0] !== anchors.shape[0] || positives.shape[1] !== d) {
    throw new CrdError(
      'feature-dim-mismatch',
      `CRD (queue) scores: positives must be [${anchors.shape[0]}, ${d}] like the anchors, got [${positives.shape}]`,
    );
  }
  if (negatives.length === 0) {
    throw new CrdError('bad-contrast', 'CRD (queue) scores: no negatives');
  }
  let whole = negatives.length === queue.shape[0];
  for (let j = 0; whole && j < negatives.length; j++) whole = negatives[j] === j;
  return tf.tidy(() => {
    const scale = 1 / temperature;
    const positive = tf.mul(tf.sum(tf.mul(anchors, constantForGradient(positives)), 1, true), scale) as tf.Tensor2D;
    const rows = whole ? queue : gatherRows(queue, negatives);
    const negative = tf.mul(tf.matMul(anchors, rows, false, true), scale) as tf.Tensor2D;
    return { positive, negative };
  });
}

/** `x` itself, with no gradient flowing back through it (tfjs has no stop-gradient op). */
export function constantForGradient<T extends tf.Tensor>(x: T): T {
  return detach(x) as T;
}

const detach = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor;
  return { value: tf.clone(x), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
}) as unknown as (x: tf.Tensor) => tf.Tensor;

/**
 * Unnormalised CRD scores, reference layout: `exp(bank[idx[b, j]] . v[b] / T)`, `[B, K+1]`,
 * positive first (RepDistiller `ContrastMemory` before the division by Z).
 */
export function contrastScores(
  bank: tf.Tensor2D,
  anchors: tf.Tensor2D,
  contrast: Int32Array,
  temperature: number,
  strategy: ScoringStrategy = 'gather',
): tf.Tensor2D {
  return tf.tidy(() => joinExp(contrastLogits(bank, anchors, contrast, temperature, strategy)));
}

/** Unnormalised scores of the shared-negatives variant, `[B, K+1]`, positive first. */
export function sharedContrastScores(
  bank: tf.Tensor2D,
  anchors: tf.Tensor2D,
  positives: Int32Array,
  negatives: Int32Array,
  temperature: number,
): tf.Tensor2D {
  return tf.tidy(() => joinExp(sharedContrastLogits(bank, anchors, positives, negatives, temperature)));
}

function checkTemperature(temperature: number, where: string): void {
  if (!(Number.isFinite(temperature) && temperature > 0)) {
    throw new DistillationError('bad-option', `${where}: temperature must be a finite number > 0, got ${temperature}`);
  }
}

function joinExp(l: ContrastLogits): tf.Tensor2D {
  return tf.exp(tf.concat([l.positive, l.negative], 1)) as tf.Tensor2D;
}

/**
 * `dots[b, j] = anchors[b] . bank[idx]` through one `[B, N]` matmul. The gradient is written by
 * hand (scatter of `dy` into `[B, N]`, then one matmul with the bank), because tfjs's generic
 * gather gradient (unsortedSegmentSum) costs one kernel per segment, i.e. per bank entry.
 */
function denseDots(bank: tf.Tensor2D, flatIdx: Int32Array, b: number, cols: number): (anchors: tf.Tensor2D) => tf.Tensor2D {
  const n = bank.shape[0];
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const anchors = args[0] as tf.Tensor2D;
    const value = tf.tidy(() => {
      const all = tf.matMul(anchors, bank, false, true);
      return tf.reshape(tf.gather(tf.reshape(all, [b * n]), tf.tensor1d(flatIdx, 'int32')), [b, cols]);
    });
    return {
      value,
      gradFunc: (dy: tf.Tensor) =>
        tf.tidy(() => {
          const at = tf.tensor2d(flatIdx, [flatIdx.length, 1], 'int32');
          const scattered = tf.scatterND(at, tf.reshape(dy, [b * cols]), [b * n]);
          return tf.matMul(tf.reshape(scattered, [b, n]) as tf.Tensor2D, bank);
        }),
    };
  }) as unknown as (anchors: tf.Tensor2D) => tf.Tensor2D;
}

/**
 * The normaliser Z of RepDistiller's `ContrastMemory`: `mean(scores) * N` over all `B*(K+1)`
 * unnormalised scores of the first batch (then frozen by the caller). Reads the value synchronously.
 */
export function estimateZ(scores: tf.Tensor | ContrastLogits, dataSize: number): number {
  if (!(Number.isFinite(dataSize) && dataSize > 0)) {
    throw new DistillationError('bad-option', `estimateZ: dataSize must be > 0, got ${dataSize}`);
  }
  const mean = tf.tidy(() => {
    if (scores instanceof tf.Tensor) return tf.mean(scores);
    const total = scores.positive.size + scores.negative.size;
    return tf.div(tf.add(tf.sum(tf.exp(scores.positive)), tf.sum(tf.exp(scores.negative))), total);
  });
  const value = mean.dataSync()[0]! * dataSize;
  mean.dispose();
  if (!(Number.isFinite(value) && value > 0)) {
    throw new CrdError(
      'non-finite-normaliser',
      `CRD: the normaliser Z estimated on the first batch is ${value} (it must be finite and > 0); check that the features are finite`,
    );
  }
  return value;
}

/**
 * RepDistiller's `ContrastLoss` (NCE, paper eq. 18) on normalised scores `P = exp(s/T)/Z`,
 * `[B, K+1]` positive first, with `m = K`, `Pn = 1/N`, eps 1e-7:
 * `-(sum_b log(P_pos/(P_pos + m Pn + eps)) + sum_{b,j} log(m Pn/(P_neg + m Pn + eps))) / B`.
 */
export function nceLoss(probabilities: tf.Tensor2D, dataSize: number): tf.Scalar {
  if (probabilities.rank !== 2 || probabilities.shape[1] < 2) {
    throw new CrdError('bad-contrast', `nceLoss: expected scores [B, K+1] with K >= 1, got [${probabilities.shape}]`);
  }
  if (!(Number.isFinite(dataSize) && dataSize > 0)) {
    throw new DistillationError('bad-option', `nceLoss: dataSize must be > 0, got ${dataSize}`);
  }
  const [b, cols] = probabilities.shape;
  const m = cols - 1;
  const mPn = m / dataSize;
  return tf.tidy(() => {
    const pos = tf.slice(probabilities, [0, 0], [b, 1]);
    const neg = tf.slice(probabilities, [0, 1], [b, m]);
    const logD1 = tf.log(tf.div(pos, tf.add(pos, mPn + NCE_EPS)));
    const logD0 = tf.log(tf.div(tf.scalar(mPn), tf.add(neg, mPn + NCE_EPS)));
    return tf.div(tf.neg(tf.add(tf.sum(logD1), tf.sum(logD0))), b) as tf.Scalar;
  });
}

/**
 * {@link nceLoss} computed from logits `s/T` and a frozen Z, in log space:
 * `log D1 = (s/T - log Z) - log(P + m Pn + eps)`, `log D0 = log(m Pn) - log(P + m Pn + eps)`.
 * Same value as the reference formula; no `[B, K+1]` slicing and one division fewer per score.
 */
export function nceLossFromLogits(logits: ContrastLogits, z: number, dataSize: number): tf.Scalar {
  if (!(Number.isFinite(z) && z > 0)) {
    throw new CrdError('non-finite-normaliser', `nceLossFromLogits: the normaliser Z must be finite and > 0, got ${z}`);
  }
  if (!(Number.isFinite(dataSize) && dataSize > 0)) {
    throw new DistillationError('bad-option', `nceLossFromLogits: dataSize must be > 0, got ${dataSize}`);
  }
  const b = logits.positive.shape[0];
  const m = logits.negative.shape[1];
  const mPn = m / dataSize;
  const logZ = Math.log(z);
  return tf.tidy(() => {
    const logPos = tf.sub(logits.positive, logZ);
    const logD1 = tf.sub(logPos, tf.log(tf.add(tf.exp(logPos), mPn + NCE_EPS)));
    const denominators = tf.log(tf.add(tf.exp(tf.sub(logits.negative, logZ)), mPn + NCE_EPS));
    const sumD0 = tf.sub(b * m * Math.log(mPn), tf.sum(denominators));
    return tf.div(tf.neg(tf.add(tf.sum(logD1), sumD0)), b) as tf.Scalar;
  });
}
