import * as tf from '@tensorflow/tfjs-core';
import { RelationalError } from './errors';

/**
 * Input checks and small numerical pieces shared by the relational losses (not exported from the
 * package). Every check runs before any tensor is created, so a bad call leaks nothing.
 */

/** What a pair check needs to know about the method. */
export interface PairRequirements {
  /** The function's name, first word of every message. */
  readonly where: string;
  /** Fewest examples the method's relations need (2 for pairs, 3 for triples). */
  readonly minBatch: number;
  /** Why that many (ends the `batch-too-small` message). */
  readonly relation: string;
  /** Student and teacher must have the same shape (CC compares them value by value). */
  readonly sameShape?: boolean;
}

/**
 * Checks one student/teacher pair of features: float32 tensors, each `[B, D]` or NHWC
 * `[B, H, W, C]` with at least one value per example, the same `B` on both sides, `B` large
 * enough for the method's relations and, for CC, equal shapes. Throws a {@link RelationalError}
 * naming the tensor and its shape.
 */
export function checkPair(student: unknown, teacher: unknown, requirements: PairRequirements): void {
  const { where, minBatch, relation, sameShape = false } = requirements;
  const sides = [
    ['student', student],
    ['teacher', teacher],
  ] as const;
  for (const [role, t] of sides) {
    if (!(t instanceof tf.Tensor)) {
      throw new RelationalError('not-a-tensor', `${where}: the ${role} features must be a tf.Tensor, got ${describe(t)}`);
    }
    if (t.isDisposed) throw new RelationalError('not-a-tensor', `${where}: the ${role} features tensor is disposed`);
    if (t.dtype !== 'float32') {
      throw new RelationalError('bad-dtype', `${where}: the ${role} features must be float32, got ${t.dtype} [${t.shape}]`);
    }
    if (t.rank !== 2 && t.rank !== 4) {
      throw new RelationalError(
        'unsupported-rank',
        `${where}: the ${role} features must be [batch, features] or an NHWC map [batch, height, width, channels], got rank ${t.rank} [${t.shape}]`,
      );
    }
    if (t.shape.slice(1).some((d: number) => d === 0)) {
      throw new RelationalError('empty-feature', `${where}: the ${role} features have no values per example: [${t.shape}]`);
    }
  }
  const s = student as tf.Tensor;
  const t = teacher as tf.Tensor;
  if (s.shape[0] !== t.shape[0]) {
    throw new RelationalError(
      'batch-size-mismatch',
      `${where}: student [${s.shape}] and teacher [${t.shape}] must hold the same examples (batch ${s.shape[0]} vs ${t.shape[0]})`,
    );
  }
  if (s.shape[0]! < minBatch) {
    throw new RelationalError(
      'batch-too-small',
      `${where}: needs a batch of at least ${minBatch} examples (${relation}), got ${s.shape[0]} (student [${s.shape}])`,
    );
  }
  if (sameShape && (s.rank !== t.rank || s.shape.some((d, i) => d !== t.shape[i]))) {
    throw new RelationalError(
      'feature-shape-mismatch',
      `${where}: student [${s.shape}] and teacher [${t.shape}] must have the same shape (they are compared value by value)`,
    );
  }
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') return value.constructor?.name ? `a ${value.constructor.name}` : 'an object';
  return typeof value;
}

/** `[B, ...]` flattened per example to `[B, D]` (NHWC order; every relational loss is invariant to it). */
export function flattenExamples(x: tf.Tensor): tf.Tensor2D {
  return (x.rank === 2 ? x : tf.reshape(x, [x.shape[0]!, -1])) as tf.Tensor2D;
}

/**
 * The identity with a zero gradient: the teacher side of SP, RKD and PKT is a constant of the
 * step (RepDistiller computes it under `no_grad` or on detached features). Applied to the
 * teacher-side result, so back-propagation stops there.
 */
export const constant: <T extends tf.Tensor>(x: T) => T = tf.customGrad(((x: tf.Tensor) => ({
  value: tf.clone(x),
  gradFunc: (dy: tf.Tensor) => [tf.zerosLike(dy)],
})) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as <T extends tf.Tensor>(x: T) => T;

/**
 * L2 norm of each slice along `axis` (kept), floored: `max(||v||, floor)` computed as
 * `sqrt(max(||v||^2, floor^2))`. The value equals PyTorch's `clamp(norm, min=floor)`; the form
 * keeps the gradient finite (zero through the norm) at an all-zero slice, as PyTorch's norm
 * does, where a plain `sqrt` would give 0 * Infinity = NaN.
 */
export function flooredNorm(x: tf.Tensor, axis: number, floor: number): tf.Tensor {
  return tf.sqrt(tf.maximum(tf.sum(tf.square(x), axis, true), floor * floor));
}

/** `x / max(||x||, 1e-12)` along `axis` (PyTorch `F.normalize`, p = 2). */
export function normalize(x: tf.Tensor, axis: number): tf.Tensor {
  return tf.div(x, flooredNorm(x, axis, 1e-12));
}

/** Smooth L1 (Huber, beta 1) averaged over every element (PyTorch `F.smooth_l1_loss`, mean). */
export function smoothL1Mean(prediction: tf.Tensor, target: tf.Tensor): tf.Scalar {
  const diff = tf.abs(tf.sub(prediction, target));
  const quadratic = tf.minimum(diff, 1);
  // 0.5 d^2 for |d| < 1, |d| - 0.5 otherwise
  return tf.mean(tf.add(tf.mul(tf.square(quadratic), 0.5), tf.sub(diff, quadratic))) as tf.Scalar;
}
