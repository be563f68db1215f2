import {
  DistillationError,
  type ExampleId,
  isRandomAccess,
  optionsSchema,
  parseOptions,
  type RandomAccessSource,
  SeededRandom,
  type SourceBatch,
  sha256Digest,
} from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { AugmentOptions } from './augment';
import { horizontalFlip, horizontalFlipSchema, jitter, jitterSchema, randomCrop, randomCropSchema } from './augment';
import { DataError } from './errors';

/** Options of {@link augmentedViews}. */
export interface AugmentedViewsOptions extends Omit<AugmentOptions, 'name'> {
  /** Augmented views per example, V >= 1: the source holds V x N examples. */
  readonly views: number;
  /** Seed of the views' randomness (view `v` of example `i` draws from `keyed(seed, 'view', v, i)`). Default 0. */
  readonly seed?: number;
}

/** Schema of {@link AugmentedViewsOptions}. */
export const augmentedViewsSchema = optionsSchema<AugmentedViewsOptions>()({
  views: z.number().int().positive(),
  seed: z.number().int().nonnegative().default(0),
  crop: randomCropSchema.optional(),
  flip: z.union([z.boolean(), horizontalFlipSchema], { message: 'must be a boolean or { probability }' }).optional(),
  jitter: z.union([z.boolean(), jitterSchema], { message: 'must be a boolean or { pixels }' }).optional(),
});

/** The id of view `view` of the example `id`: `<id as JSON>@<view>`, e.g. `17@0`, `"cat/1.png"@2`. */
export function viewId(id: ExampleId, view: number): string {
  return `${JSON.stringify(id)}@${view}`;
}

/**
 * A fixed set of V augmented views of every example of a random-access source, as a source of
 * V x N examples: position `v * N + i` is view `v` of example `i`, with id {@link viewId}`(id, v)`,
 * the example's label and its `teacherX` unchanged. A view is a deterministic function of the seed,
 * `v` and `i` (crop, flip and jitter as in {@link augment}, drawn from
 * `SeededRandom.keyed(seed, 'view', v, i)`), so every read of a position gives the same pixels.
 *
 * This is how augmented training works with teacher outputs computed once: augmentation moves into
 * the data, the teacher's outputs are precomputed (or cached) per view — `precomputeTeacher(teacher,
 * augmentedViews(source, options), dir)` — and the student trains on the same views with the stored
 * teacher, which sees exactly the view the student sees. An epoch over it is V passes over the
 * data, each example once in each view. The `augment` plugin instead draws a new view every step,
 * which no precomputed outputs can follow (a stored or cached teacher refuses it).
 *
 * Its description names the views, the augmentation and the seed, so a store written for other
 * views is refused; `fingerprint()` is the base source's plus those, when the base has one.
 * `close()` closes the base source.
 */
export function augmentedViews(source: RandomAccessSource, options: AugmentedViewsOptions): RandomAccessSource {
  const parsed = parseOptions(augmentedViewsSchema, options, 'augmentedViews');
  if (!isRandomAccess(source)) {
    throw new DataError(
      'views-need-random-access',
      `augmentedViews: ${source && typeof source === 'object' && 'description' in source ? (source as { description?: string }).description : 'the source'} must be a random-access DataSource (with read(positions)); front-to-back sources cannot be viewed by position`,
    );
  }
  const steps: ((x: tf.Tensor, random: SeededRandom) => tf.Tensor)[] = [];
  const { crop, seed, views } = parsed;
  if (crop) steps.push((x, r) => randomCrop(x, crop, r));
  const flip = parsed.flip === true ? {} : parsed.flip || undefined;
  if (flip) steps.push((x, r) => horizontalFlip(x, flip, r));
  const shift = parsed.jitter === true ? {} : parsed.jitter || undefined;
  if (shift) steps.push((x, r) => jitter(x, shift, r));
  if (steps.length === 0) throw new DataError('no-augmentation', 'augmentedViews: choose at least one of crop, flip, jitter');
  const label = [crop ? `crop(${crop.padding})` : '', flip ? 'flip' : '', shift ? 'jitter' : ''].filter(Boolean).join('+');
  const n = source.size;
  const exampleShape = [...source.exampleShape];
  const width = exampleShape.reduce((a, b) => a * b, 1);
  const settings = JSON.stringify({ views, seed, crop: crop ?? null, flip: flip ?? null, jitter: shift ?? null });

  if (exampleShape.length !== 2 && exampleShape.length !== 3) {
    throw new DataError('bad-images', `augmentedViews: examples must be images [H, W, C] or [H, W], got [${exampleShape}]`);
  }
  if (crop?.size && (crop.size[0] !== exampleShape[0] || crop.size[1] !== exampleShape[1])) {
    throw new DistillationError(
      'bad-option',
      `augmentedViews: option "crop.size" [${crop.size}] must be the examples' size [${exampleShape.slice(0, 2)}] (a view is an example of the same shape)`,
    );
  }

  const view = (x: Float32Array, v: number, i: number): Float32Array =>
    tf.tidy(() => {
      const random = SeededRandom.keyed(seed, 'view', v, i);
      let image: tf.Tensor = tf.tensor(x, [1, ...exampleShape], 'float32');
      for (const step of steps) image = step(image, random);
      return image.dataSync() as Float32Array;
    });

  return {
    kind: 'kd-source',
    size: views * n,
    exampleShape,
    ...(source.teacherExampleShape ? { teacherExampleShape: [...source.teacherExampleShape] } : {}),
    ...(source.labels ? { labels: Int32Array.from({ length: views * n }, (_, p) => source.labels![p % n]!) } : {}),
    ...(source.classNames ? { classNames: source.classNames } : {}),
    description: `${views} augmented view(s) (${label}, seed ${seed}) of ${source.description ?? 'a DataSource'}`,
    ...(source.fingerprint
      ? {
          fingerprint: async () =>
            sha256Digest()
              .update(`kd-augmented-views/v1\n${settings}\n${await source.fingerprint!()}`)
              .hex(),
        }
      : {}),
    ...(source.close ? { close: () => source.close!() } : {}),
    async read(positions: Int32Array): Promise<SourceBatch> {
      const examples = Int32Array.from(positions, (p) => p % n);
      const base = await source.read(examples);
      const x = new Float32Array(positions.length * width);
      positions.forEach((p, k) => {
        const v = Math.floor(p / n);
        x.set(view(base.x.subarray(k * width, (k + 1) * width), v, examples[k]!), k * width);
      });
      return {
        x,
        y: base.y,
        ids: Array.from(positions, (p, k) => viewId(base.ids[k]!, Math.floor(p / n))),
        ...(base.teacherX ? { teacherX: base.teacherX } : {}),
      };
    },
  };
}
