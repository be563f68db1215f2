import { type Batch, definePlugin, type DistillationPlugin, type LabeledData, type SeededRandom } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';

/** Standard normal draw from a seeded source (Box-Muller). */
function normal(random: SeededRandom): number {
  let u = 0;
  while (u === 0) u = random.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.next());
}

/** Gamma(shape, 1) draw (Marsaglia-Tsang; boosted for shape < 1). */
export function sampleGamma(shape: number, random: SeededRandom): number {
  if (!(shape > 0)) throw new RangeError(`sampleGamma: shape must be > 0, got ${shape}`);
  if (shape < 1) {
    let u = 0;
    while (u === 0) u = random.next();
    return sampleGamma(shape + 1, random) * u ** (1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(random);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = random.next();
    if (u < 1 - 0.0331 * x ** 4) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** Beta(a, b) draw from two Gamma draws. */
export function sampleBeta(a: number, b: number, random: SeededRandom): number {
  const x = sampleGamma(a, random);
  const y = sampleGamma(b, random);
  return x + y === 0 ? 0.5 : x / (x + y);
}

/** Options of {@link mixup}. */
export interface MixupOptions {
  /** lambda ~ Beta(alpha, alpha); alpha 0 turns MixUp off (BiT: 0 below 20 000 examples, else 0.1). */
  readonly alpha: number;
}

/**
 * MixUp (Zhang et al. 2018) as BiT applies it: one lambda ~ Beta(alpha, alpha) per batch from the
 * run's seeded random source, pairs by a random permutation of the batch,
 * `x = lambda*x + (1 - lambda)*x[perm]` and soft labels
 * `yMixed = lambda*onehot(y) + (1 - lambda)*onehot(y[perm])` (used by `hardLabel`). `teacherX` is
 * mixed the same way, so teacher and student see the same mixed batch ("consistent teaching").
 * Put it after the preprocessing plugin.
 */
export function mixup(options: MixupOptions): DistillationPlugin<{ numClasses: number }> {
  const alpha = options.alpha;
  if (!(Number.isFinite(alpha) && alpha >= 0)) throw new RangeError(`mixup: alpha must be >= 0, got ${alpha}`);
  return definePlugin<{ numClasses: number }>({
    name: 'mixup',
    label: `mixup(a=${alpha})`,
    setup: ({ numClasses }) => ({ numClasses }),
    transformBatch(batch, { state, random }) {
      if (alpha === 0) return batch;
      const lambda = sampleBeta(alpha, alpha, random);
      const n = batch.x.shape[0]!;
      const perm = tf.tensor1d(random.permutation(n), 'int32');
      const mix = (t: tf.Tensor): tf.Tensor => tf.add(tf.mul(t, lambda), tf.mul(tf.gather(t, perm), 1 - lambda));
      const soft = batch.yMixed ?? (tf.oneHot(tf.cast(batch.y, 'int32') as tf.Tensor1D, state.numClasses) as tf.Tensor2D);
      return {
        ...batch,
        x: mix(batch.x),
        ...(batch.teacherX ? { teacherX: mix(batch.teacherX) } : {}),
        yMixed: mix(tf.cast(soft, 'float32')) as tf.Tensor2D,
      };
    },
  });
}

/** Options of {@link bitPreprocess} and {@link bitEvalPreprocess}. */
export interface PreprocessOptions {
  /** Square resize before the random crop (HyperRule `resize`). */
  readonly resize: number;
  /** Crop size (HyperRule `crop`). */
  readonly crop: number;
  /** Random horizontal flips. Default true. */
  readonly flip?: boolean;
  /** Range of the raw inputs, mapped linearly to [-1, 1]. Default [0, 1]. */
  readonly inputRange?: readonly [number, number];
}

function check(options: PreprocessOptions, what: string): void {
  if (!Number.isInteger(options.resize) || !Number.isInteger(options.crop) || options.crop < 1 || options.crop > options.resize) {
    throw new RangeError(`${what}: need integers 1 <= crop <= resize, got resize ${options.resize}, crop ${options.crop}`);
  }
  const [lo, hi] = options.inputRange ?? [0, 1];
  if (!(hi > lo)) throw new RangeError(`${what}: inputRange must be [lo, hi] with hi > lo`);
}

function toUnitRange(x: tf.Tensor, range: readonly [number, number]): tf.Tensor {
  const [lo, hi] = range;
  return tf.sub(tf.mul(tf.sub(x, lo), 2 / (hi - lo)), 1);
}

function resizeTo(x: tf.Tensor4D, size: number): tf.Tensor4D {
  return x.shape[1] === size && x.shape[2] === size ? x : tf.image.resizeBilinear(x, [size, size]);
}

/**
 * BiT's training preprocessing of a batch `[B, H, W, C]`: square resize to `resize`, an
 * independent random `crop` x `crop` window and (by default) a random horizontal flip per example,
 * then inputs mapped from `inputRange` to [-1, 1]. All randomness from `random`.
 */
export function preprocessTrainBatch(x: tf.Tensor, options: PreprocessOptions, random: SeededRandom): tf.Tensor4D {
  check(options, 'preprocessTrainBatch');
  return tf.tidy(() => {
    const resized = resizeTo(x as tf.Tensor4D, options.resize);
    const n = resized.shape[0];
    const c = resized.shape[3];
    const span = options.resize - options.crop + 1;
    const crops: tf.Tensor4D[] = [];
    for (let i = 0; i < n; i++) {
      let crop = tf.slice(resized, [i, random.int(span), random.int(span), 0], [1, options.crop, options.crop, c]);
      if ((options.flip ?? true) && random.next() < 0.5) crop = tf.reverse(crop, 2);
      crops.push(crop);
    }
    return toUnitRange(n === 1 ? crops[0]! : tf.concat(crops, 0), options.inputRange ?? [0, 1]) as tf.Tensor4D;
  });
}

/** BiT's evaluation preprocessing: resize straight to `crop`, inputs to [-1, 1]. */
export function preprocessEvalBatch(x: tf.Tensor, options: PreprocessOptions): tf.Tensor4D {
  check(options, 'preprocessEvalBatch');
  return tf.tidy(() => toUnitRange(resizeTo(x as tf.Tensor4D, options.crop), options.inputRange ?? [0, 1]) as tf.Tensor4D);
}

/**
 * The training preprocessing as a `transformBatch` plugin (use it first, before {@link mixup}).
 * `teacherX`, when present, gets the same crops and flips (one draw per example), so teacher and
 * student see the same view.
 */
export function bitPreprocess(options: PreprocessOptions): DistillationPlugin<void> {
  check(options, 'bitPreprocess');
  return definePlugin<void>({
    name: 'bit-preprocess',
    label: `bit-preprocess(${options.resize}->${options.crop})`,
    transformBatch(batch: Batch, { random }): Batch {
      if (!batch.teacherX) return { ...batch, x: preprocessTrainBatch(batch.x, options, random) };
      // Same draws for both inputs: replay the generator.
      const state = random.getState();
      const x = preprocessTrainBatch(batch.x, options, random);
      const after = random.getState();
      random.setState(state);
      const teacherX = preprocessTrainBatch(batch.teacherX, options, random);
      random.setState(after);
      return { ...batch, x, teacherX };
    },
  });
}

/**
 * Evaluation copy of a data set: every image resized to `crop` and mapped to [-1, 1], in chunks
 * of `batchSize`. New tensors (the labels too): the caller disposes them.
 */
export function bitEvalPreprocess(data: LabeledData, options: PreprocessOptions & { batchSize?: number }): LabeledData {
  const n = data.x.shape[0]!;
  const size = options.batchSize ?? 256;
  const parts: tf.Tensor[] = [];
  for (let i = 0; i < n; i += size) {
    parts.push(tf.tidy(() => preprocessEvalBatch(tf.slice(data.x, i, Math.min(size, n - i)), options)));
  }
  const x = parts.length === 1 ? parts[0]! : tf.concat(parts, 0);
  if (parts.length > 1) tf.dispose(parts);
  return { x, y: tf.clone(data.y) };
}
