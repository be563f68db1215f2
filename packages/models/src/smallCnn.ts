import { integerSchema, nameSchema, optionsSchema, parseOptions, seedSchema } from '@kd/core';
import * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import { classesSchema, imageShapeSchema } from './schemas';

/** Options of {@link smallCnn}. */
export interface SmallCnnOptions {
  /** Model name and prefix of every layer name. Default `'cnn'`. */
  readonly name?: string;
  /** Filters of the two 3x3 convolutions, `[c1, c2]` (integers >= 1). */
  readonly filters: readonly [number, number];
  /** Units of the hidden dense layer (`<name>_pool`, the penultimate vector). */
  readonly dense: number;
  /** Seed of the weight initialisers (layer k is initialised with `seed + k`). Default 0. */
  readonly seed?: number;
  /** Example shape `[height, width, channels]`, height and width >= 4. Default `[28, 28, 1]`. */
  readonly inputShape?: readonly [number, number, number];
  /** Number of classes (units of the logits layer), >= 2. Default 10. */
  readonly classes?: number;
}

/** Schema of {@link SmallCnnOptions} (defaults applied). */
export const smallCnnSchema = optionsSchema<SmallCnnOptions>()({
  name: nameSchema.default('cnn'),
  filters: z.tuple([integerSchema(1), integerSchema(1)], { message: 'must be [c1, c2]' }),
  dense: integerSchema(1),
  seed: seedSchema.default(0),
  inputShape: imageShapeSchema.default([28, 28, 1]),
  classes: classesSchema.default(10),
});

const he = (seed: number) => tfl.initializers.heNormal({ seed });

/**
 * A small convolutional classifier (the benchmark's CNN teacher and student): `conv(3x3,
 * filters[0]) - relu - maxpool2 - conv(3x3, filters[1]) - relu - maxpool2 - flatten - dense(dense) -
 * relu - dense(classes)`, 'same' padding, logits out.
 *
 * Layer names, the taps of feature methods: `<name>_conv1`, `<name>_block1` (first pooled map),
 * `<name>_conv2`, `<name>_block2` (second pooled map, FitNet's hint), `<name>_flatten`,
 * `<name>_pool` (the penultimate vector, CRD's embedding input) and `<name>_logits`. Kernels are
 * He-normal with seeds `seed`, `seed + 1`, `seed + 2` and Glorot-uniform with `seed + 3` for the
 * logits; biases start at zero. One seed gives the same weights bit for bit.
 *
 * Options are checked first: `unknown-option` (with a suggestion) for a misspelt key,
 * `bad-option` naming the key for a bad value (e.g. `filters: [8]`, `classes: 1`).
 *
 * @example
 * ```ts
 * const student = smallCnn({ name: 'student', filters: [8, 16], dense: 32, seed: 1 });
 * ```
 */
export function smallCnn(options: SmallCnnOptions): tfl.LayersModel {
  const { name, filters, dense, seed, inputShape, classes } = parseOptions(smallCnnSchema, options, 'smallCnn');
  return tfl.sequential({
    name,
    layers: [
      tfl.layers.conv2d({
        inputShape: [...inputShape],
        filters: filters[0],
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: he(seed),
        name: `${name}_conv1`,
      }),
      tfl.layers.maxPooling2d({ poolSize: 2, name: `${name}_block1` }),
      tfl.layers.conv2d({
        filters: filters[1],
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: he(seed + 1),
        name: `${name}_conv2`,
      }),
      tfl.layers.maxPooling2d({ poolSize: 2, name: `${name}_block2` }),
      tfl.layers.flatten({ name: `${name}_flatten` }),
      tfl.layers.dense({ units: dense, activation: 'relu', kernelInitializer: he(seed + 2), name: `${name}_pool` }),
      tfl.layers.dense({ units: classes, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 3 }), name: `${name}_logits` }),
    ],
  });
}
