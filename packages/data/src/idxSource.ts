import { optionsSchema, parseOptions } from '@kd/core';
import { z } from 'zod';
import { DataError } from './errors';
import type { IdxArray } from './idx';
import { checkIdxPair } from './labeled';
import { checkPositions, idsOf, type LabeledSource } from './sources';

/** Options of {@link idxSource}. */
export interface IdxSourceOptions {
  /** Names the images file in messages (default `'images'`). */
  readonly images?: string;
  /** Names the labels file in messages (default `'labels'`). */
  readonly labels?: string;
  /** Number of classes; default: the largest label + 1. A label at or above it is refused. */
  readonly classes?: number;
  /** Prefixes the ids (`${name}:${index}`) and names the source. Default: ids are the indices. */
  readonly name?: string;
}

/** Schema of {@link IdxSourceOptions}. */
export const idxSourceSchema = optionsSchema<IdxSourceOptions>()({
  images: z.string({ message: 'must be a string' }).default('images'),
  labels: z.string({ message: 'must be a string' }).default('labels'),
  classes: z.number().int().positive().optional(),
  name: z.string({ message: 'must be a non-empty string' }).min(1, { message: 'must be a non-empty string' }).optional(),
});

/**
 * Decoded IDX images `[N, H, W]` (uint8) and labels `[N]` as a {@link LabeledSource} over the
 * bytes: nothing is converted up front, so Fashion-MNIST's 60,000 training images stay 47 MB of
 * bytes instead of a 188 MB float tensor. `read` returns x, `n` images `[H, W, 1]` scaled to
 * [0, 1] (the values {@link idxToLabeledData} gives, bit for bit), and y. Throws `idx-not-images`,
 * `idx-not-labels`, `idx-count-mismatch`, `idx-bad-label` (a label at or above `classes`).
 *
 * @example
 * ```ts
 * const train = idxSource(await loadIdxFile('train-images-idx3-ubyte.gz'), await loadIdxFile('train-labels-idx1-ubyte.gz'));
 * await distiller.fit(train, { epochs: 1 });
 * ```
 */
export function idxSource(images: IdxArray, labels: IdxArray, options: IdxSourceOptions = {}): LabeledSource {
  const { images: imagesName, labels: labelsName, classes, name } = parseOptions(idxSourceSchema, options, 'idxSource');
  const [size, h, w] = checkIdxPair(images, labels, imagesName, labelsName);
  const all = Int32Array.from(labels.data);
  const numClasses = classes ?? all.reduce((m, l) => Math.max(m, l + 1), 1);
  const bad = all.findIndex((l) => l < 0 || l >= numClasses);
  if (bad >= 0) {
    throw new DataError('idx-bad-label', `idxSource: ${labelsName}: label ${bad} is ${all[bad]}, not a class in [0, ${numClasses})`);
  }
  const pixels = h * w;
  const bytes = images.data as Uint8Array;
  const where = `idxSource(${name ?? imagesName})`;
  return {
    kind: 'kd-source',
    size,
    exampleShape: [h, w, 1],
    labels: all,
    numClasses,
    description: `IDX ${name ?? imagesName}`,
    read(positions) {
      checkPositions(positions, size, where);
      const x = new Float32Array(positions.length * pixels);
      for (let b = 0; b < positions.length; b++) {
        const from = positions[b]! * pixels;
        for (let i = 0; i < pixels; i++) x[b * pixels + i] = bytes[from + i]! / 255;
      }
      return { x, y: Int32Array.from(positions, (p) => all[p]!), ids: idsOf(positions, name) };
    },
  };
}
