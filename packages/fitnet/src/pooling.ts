import { DistillationError, type LayerShape } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { FitnetError } from './errors';

/**
 * Shape checks and the average pooling shared by the map-based methods (NST, VID, FSP, FT):
 * NHWC maps `[batch, height, width, channels]`; when two maps' spatial sizes differ, the larger
 * is average-pooled to the smaller (RepDistiller's `adaptive_avg_pool2d` of divisible sizes: a
 * window and stride of `big / small` per axis). Not exported from the package.
 */

/** Throws `bad-option` when `value` is not a tensor, `rank-mismatch` when it is not NHWC. */
export function checkMap(value: unknown, what: string, where: string): asserts value is tf.Tensor4D {
  if (!(value instanceof tf.Tensor)) throw new DistillationError('bad-option', `${where}: ${what} must be a tensor, got ${String(value)}`);
  if (value.rank !== 4) {
    throw new FitnetError('rank-mismatch', `${where}: ${what} must be an NHWC map [batch, height, width, channels], got [${value.shape}]`);
  }
}

/** Throws `batch-size-mismatch` when two run-time tensors have different batch sizes. */
export function checkSameBatch(a: tf.Tensor, aName: string, b: tf.Tensor, bName: string, where: string): void {
  if (a.shape[0] !== b.shape[0]) {
    throw new FitnetError(
      'batch-size-mismatch',
      `${where}: ${aName} [${a.shape}] and ${bName} [${b.shape}] have different batch sizes (${a.shape[0]} vs ${b.shape[0]})`,
    );
  }
}

/**
 * Checks that two NHWC shapes (batch first; batch may be null) can be brought to one spatial
 * size by integer average pooling of the larger: `rank-mismatch` when one is not rank 4,
 * `unknown-size` for an unknown height or width, `unsupported-size-relation` when the larger
 * (by height, as the reference decides) is not an integer multiple of the smaller in both axes.
 */
export function checkPoolable(a: LayerShape, aName: string, b: LayerShape, bName: string, where: string): void {
  const show = `${aName} [${a.map(String)}], ${bName} [${b.map(String)}]`;
  if (a.length !== 4 || b.length !== 4) {
    throw new FitnetError('rank-mismatch', `${where}: needs NHWC maps [batch, height, width, channels] on both sides (${show})`);
  }
  const [, aH, aW] = a as number[];
  const [, bH, bW] = b as number[];
  if ([aH, aW, bH, bW].some((d) => d == null || !Number.isInteger(d) || d <= 0)) {
    throw new FitnetError('unknown-size', `${where}: the spatial sizes must be known (${show})`);
  }
  const [bigH, bigW, smallH, smallW] = aH! >= bH! ? [aH!, aW!, bH!, bW!] : [bH!, bW!, aH!, aW!];
  if (bigH % smallH !== 0 || bigW < smallW || bigW % smallW !== 0) {
    throw new FitnetError(
      'unsupported-size-relation',
      `${where}: the larger map must be an integer multiple of the smaller one in height and in width to be average-pooled to it ` +
        `(${show}: ${bigH}/${smallH} and ${bigW}/${smallW})`,
    );
  }
}

/** Average-pools `x` `[B, H, W, C]` to `[B, h, w, C]` (H/h and W/w integers, checked before). */
export function poolTo(x: tf.Tensor4D, h: number, w: number): tf.Tensor4D {
  const fh = x.shape[1] / h;
  const fw = x.shape[2] / w;
  if (fh === 1 && fw === 1) return x;
  return tf.avgPool(x, [fh, fw], [fh, fw], 'valid');
}

/** The two maps at one spatial size: the larger (by height) pooled to the smaller's (call inside a tidy). */
export function poolToSmaller(a: tf.Tensor4D, b: tf.Tensor4D): [tf.Tensor4D, tf.Tensor4D] {
  if (a.shape[1] > b.shape[1]) return [poolTo(a, b.shape[1], b.shape[2]), b];
  if (a.shape[1] < b.shape[1]) return [a, poolTo(b, a.shape[1], a.shape[2])];
  if (a.shape[2] !== b.shape[2])
    return a.shape[2] > b.shape[2] ? [poolTo(a, b.shape[1], b.shape[2]), b] : [a, poolTo(b, a.shape[1], a.shape[2])];
  return [a, b];
}

/**
 * `x / max(||x||_2, 1e-12)` along `axis` (PyTorch `F.normalize`), computed as
 * `x / sqrt(max(sum x^2, 1e-24))`: the same values, and a finite gradient (0 through the norm, as
 * PyTorch's) for an all-zero vector, e.g. a dead ReLU channel, where `sqrt` at 0 would give NaN.
 */
export function l2Normalise(x: tf.Tensor, axis: number): tf.Tensor {
  return tf.div(x, tf.sqrt(tf.maximum(tf.sum(tf.square(x), axis, true), 1e-24)));
}

/** The identity with a zero gradient (PyTorch `.detach()`): the tensor is a constant for the tape. */
const detachOp = tf.customGrad(((x: tf.Tensor) => ({
  value: tf.clone(x),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as unknown as Parameters<typeof tf.customGrad>[0]);

/** `x` as a constant for the gradient tape (zero gradient), like PyTorch's `.detach()`. */
export function detach<T extends tf.Tensor>(x: T): T {
  return detachOp(x) as T;
}
