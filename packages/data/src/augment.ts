import {
  type Batch,
  DistillationError,
  type DistillationPlugin,
  definePlugin,
  optionsSchema,
  parseOptions,
  type SeededRandom,
} from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { DataError } from './errors';
import { integer, probability } from './schemas';

/**
 * Image augmentations for NHWC batches `[N, H, W, C]` (or `[N, H, W]`), drawn from a
 * {@link SeededRandom} (pass the run's `context.random` so runs reproduce). Each returns a new
 * float32 tensor; the caller disposes it. They run on the CPU in plain JavaScript (one read of the
 * batch, one upload), which is cheap next to a training step.
 */

interface Layout {
  readonly n: number;
  readonly h: number;
  readonly w: number;
  readonly c: number;
}

function layoutOf(x: tf.Tensor, what: string): Layout {
  if (!(x instanceof tf.Tensor)) {
    throw new DataError(
      'bad-images',
      `${what}: expected images [N, H, W, C] or [N, H, W] as a tf.Tensor, got ${x === null ? 'null' : typeof x}`,
    );
  }
  if (x.rank !== 3 && x.rank !== 4) {
    throw new DataError('bad-images', `${what}: expected images [N, H, W, C] or [N, H, W], got shape [${x.shape}]`);
  }
  const [n, h, w, c = 1] = x.shape as number[];
  return { n: n!, h: h!, w: w!, c };
}

/** Throws core's `bad-option` unless `random` is a SeededRandom (or has its `next` and `int`). */
function checkRandom(random: SeededRandom, what: string): void {
  if (random === null || typeof random !== 'object' || typeof random.next !== 'function' || typeof random.int !== 'function') {
    throw new DistillationError(
      'bad-option',
      `${what}: random must be a SeededRandom (in a plugin, the step's context.random), got ${String(random)}`,
    );
  }
}

/**
 * Copies image `k` of `source` into `out` shifted by (dy, dx), zero fill outside; the output
 * image is `oh x ow`, reading source pixel `(r - dy, col - dx)`.
 */
function shiftInto(
  source: ArrayLike<number>,
  out: Float32Array,
  k: number,
  l: Layout,
  oh: number,
  ow: number,
  dy: number,
  dx: number,
): void {
  const { h, w, c } = l;
  const inBase = k * h * w * c;
  const outBase = k * oh * ow * c;
  for (let r = 0; r < oh; r++) {
    const sr = r - dy;
    if (sr < 0 || sr >= h) continue;
    for (let col = 0; col < ow; col++) {
      const sc = col - dx;
      if (sc < 0 || sc >= w) continue;
      const from = inBase + (sr * w + sc) * c;
      const to = outBase + (r * ow + col) * c;
      for (let ch = 0; ch < c; ch++) out[to + ch] = source[from + ch]!;
    }
  }
}

/** Options of {@link randomCrop}. */
export interface RandomCropOptions {
  /** Zero padding added on every side before cropping (CIFAR's usual 4; 2 for 28x28). */
  readonly padding: number;
  /** Crop size `[height, width]`; default the input's size. */
  readonly size?: readonly [number, number];
}

/** Schema of {@link RandomCropOptions}. */
export const randomCropSchema = optionsSchema<RandomCropOptions>()({
  padding: integer(0),
  size: z.tuple([integer(1), integer(1)], { message: 'must be [height, width]' }).optional(),
});

/**
 * Random crop with zero padding (the CIFAR / ResNet recipe): pads each image by `padding` on every
 * side and takes a `size` crop at a uniformly random position, independently per example. Throws
 * `crop-too-large` when `size` exceeds the padded image.
 */
export function randomCrop(x: tf.Tensor, options: RandomCropOptions, random: SeededRandom): tf.Tensor {
  const { padding, size } = parseOptions(randomCropSchema, options, 'randomCrop');
  const l = layoutOf(x, 'randomCrop');
  checkRandom(random, 'randomCrop');
  const [oh, ow] = size ?? [l.h, l.w];
  if (oh > l.h + 2 * padding || ow > l.w + 2 * padding) {
    throw new DataError(
      'crop-too-large',
      `randomCrop: crop [${oh}, ${ow}] is larger than the padded image [${l.h + 2 * padding}, ${l.w + 2 * padding}]`,
    );
  }
  const source = x.dataSync();
  const out = new Float32Array(l.n * oh * ow * l.c);
  for (let k = 0; k < l.n; k++) {
    // Top-left corner of the crop in padded coordinates.
    const top = random.int(l.h + 2 * padding - oh + 1);
    const left = random.int(l.w + 2 * padding - ow + 1);
    shiftInto(source, out, k, l, oh, ow, padding - top, padding - left);
  }
  const shape = x.rank === 4 ? [l.n, oh, ow, l.c] : [l.n, oh, ow];
  return tf.tensor(out, shape, 'float32');
}

/** Options of {@link horizontalFlip}. */
export interface FlipOptions {
  /** Probability that an example is mirrored left-right. Default 0.5. */
  readonly probability?: number;
}

/** Schema of {@link FlipOptions} (defaults applied). */
export const horizontalFlipSchema = optionsSchema<FlipOptions>()({
  probability: probability.default(0.5),
});

/** Mirrors each image left-right with probability `probability` (independently per example). */
export function horizontalFlip(x: tf.Tensor, options: FlipOptions, random: SeededRandom): tf.Tensor {
  const { probability: p } = parseOptions(horizontalFlipSchema, options, 'horizontalFlip');
  const l = layoutOf(x, 'horizontalFlip');
  checkRandom(random, 'horizontalFlip');
  const source = x.dataSync();
  const out = new Float32Array(source.length);
  const { h, w, c } = l;
  for (let k = 0; k < l.n; k++) {
    const flip = random.next() < p;
    const base = k * h * w * c;
    for (let r = 0; r < h; r++) {
      for (let col = 0; col < w; col++) {
        const from = base + (r * w + (flip ? w - 1 - col : col)) * c;
        const to = base + (r * w + col) * c;
        for (let ch = 0; ch < c; ch++) out[to + ch] = source[from + ch]!;
      }
    }
  }
  return tf.tensor(out, x.shape, 'float32');
}

/** Options of {@link jitter}. */
export interface JitterOptions {
  /** Largest shift in pixels, in each direction (Hinton et al.'s MNIST teacher: 2). Default 2. */
  readonly pixels?: number;
}

/** Schema of {@link JitterOptions} (defaults applied). */
export const jitterSchema = optionsSchema<JitterOptions>()({
  pixels: integer(0).default(2),
});

/**
 * Input jitter (Hinton et al. 2015, MNIST teacher): shifts each image by a uniform integer offset
 * in `[-pixels, pixels]` along each axis, zero fill, same size.
 */
export function jitter(x: tf.Tensor, options: JitterOptions, random: SeededRandom): tf.Tensor {
  const { pixels } = parseOptions(jitterSchema, options, 'jitter');
  const l = layoutOf(x, 'jitter');
  checkRandom(random, 'jitter');
  const source = x.dataSync();
  const out = new Float32Array(source.length);
  for (let k = 0; k < l.n; k++) {
    const dy = random.int(2 * pixels + 1) - pixels;
    const dx = random.int(2 * pixels + 1) - pixels;
    shiftInto(source, out, k, l, l.h, l.w, dy, dx);
  }
  return tf.tensor(out, x.shape, 'float32');
}

/** Options of {@link augment}: the steps to apply, in the order crop, flip, jitter. */
export interface AugmentOptions {
  readonly crop?: RandomCropOptions;
  /** `true` for probability 0.5. */
  readonly flip?: boolean | FlipOptions;
  /** `true` for 2 pixels. */
  readonly jitter?: boolean | JitterOptions;
  /** Plugin name (default `'augment'`). */
  readonly name?: string;
}

/** Schema of {@link AugmentOptions} (defaults applied). */
export const augmentSchema = optionsSchema<AugmentOptions>()({
  crop: randomCropSchema.optional(),
  flip: z.union([z.boolean(), horizontalFlipSchema], { message: 'must be a boolean or { probability }' }).optional(),
  jitter: z.union([z.boolean(), jitterSchema], { message: 'must be a boolean or { pixels }' }).optional(),
  name: z.string({ message: 'must be a non-empty string' }).min(1, { message: 'must be a non-empty string' }).default('augment'),
});

/**
 * The augmentations as a `transformBatch` plugin for a `Distiller`, seeded by the run's random
 * source. The student's `x` is replaced by its augmented view; when the batch has no separate
 * `teacherX` the teacher sees the SAME augmented view (consistent teaching, Beyer et al. 2022).
 * Because `x` changes every step, the Distiller's teacher cache does not serve these steps, and a
 * stored or cached teacher is refused with it; for teacher outputs computed once, augment in the
 * data with `augmentedViews` instead (fixed views, stored per view). Throws `no-augmentation` when none of crop, flip and jitter is on.
 */
export function augment(options: AugmentOptions): DistillationPlugin<void> {
  const parsed = parseOptions(augmentSchema, options, 'augment');
  const steps: ((x: tf.Tensor, random: SeededRandom) => tf.Tensor)[] = [];
  const { crop } = parsed;
  if (crop) steps.push((x, r) => randomCrop(x, crop, r));
  const flip = parsed.flip === true ? {} : parsed.flip || undefined;
  if (flip) steps.push((x, r) => horizontalFlip(x, flip, r));
  const shift = parsed.jitter === true ? {} : parsed.jitter || undefined;
  if (shift) steps.push((x, r) => jitter(x, shift, r));
  if (steps.length === 0) throw new DataError('no-augmentation', 'augment: choose at least one of crop, flip, jitter');
  const label = [crop ? `crop(${crop.padding})` : '', flip ? 'flip' : '', shift ? 'jitter' : ''].filter(Boolean).join('+');
  return definePlugin<void>({
    name: parsed.name,
    label,
    changesTeacherInput: true,
    transformBatch(batch: Batch, { random }) {
      let x = batch.x;
      for (const step of steps) {
        const next = step(x, random);
        if (x !== batch.x) x.dispose();
        x = next;
      }
      return { ...batch, x };
    },
  });
}
