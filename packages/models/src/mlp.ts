import { integerSchema, nameSchema, optionsSchema, parseOptions, seedSchema } from '@kd/core';
import * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import { classesSchema, exampleShapeSchema } from './schemas';
import { SeededDropout } from './seededDropout';

/** Options of {@link mlp}. */
export interface MlpOptions {
  /** Model name and prefix of every layer name. Default `'mlp'`. */
  readonly name?: string;
  /** Units of the hidden dense layers, in order (at least one; integers >= 1). */
  readonly hidden: readonly number[];
  /** Seed of the weight initialisers (hidden layer i, from 0, gets `seed + i`; the logits `seed + hidden.length`). Default 0. */
  readonly seed?: number;
  /** Example shape, any rank (`[28, 28, 1]` images, `[20]` features). Default `[28, 28, 1]`. */
  readonly inputShape?: readonly number[];
  /** Number of classes (units of the logits layer), >= 2. Default 10. */
  readonly classes?: number;
  /**
   * Rate of a {@link SeededDropout} layer after each hidden layer, in [0, 1); 0 adds none. Default 0.
   * Dropout after hidden layer i (from 0) draws its masks with seed `seed + i`, so a run reproduces bit for bit.
   */
  readonly dropout?: number;
}

/** Schema of {@link MlpOptions} (defaults applied). */
export const mlpSchema = optionsSchema<MlpOptions>()({
  name: nameSchema.default('mlp'),
  hidden: z.array(integerSchema(1)).min(1),
  seed: seedSchema.default(0),
  inputShape: exampleShapeSchema.default([28, 28, 1]),
  classes: classesSchema.default(10),
  dropout: z
    .number({ message: 'must be a number in [0, 1)' })
    .min(0, { message: 'must be in [0, 1)' })
    .lt(1, { message: 'must be in [0, 1)' })
    .default(0),
});

/**
 * Name suffix of hidden layer `index` (from 0) of `count`: the last is `pool` (the penultimate
 * vector, CRD's embedding input), the first of the others `hidden` (FitNet's hint), then
 * `hidden2`, `hidden3`, ...
 */
function hiddenName(index: number, count: number): string {
  if (index === count - 1) return 'pool';
  return index === 0 ? 'hidden' : `hidden${index + 1}`;
}

/**
 * A multilayer perceptron classifier (the benchmark's MLP student): `flatten - dense(hidden[0]) -
 * relu - ... - dense(hidden[n-1]) - relu - dense(classes)`, logits out, with a seeded dropout
 * layer ({@link SeededDropout}) after each hidden layer when `dropout > 0`. A rank-1 example shape needs no flatten and gets
 * none.
 *
 * Layer names: `<name>_flatten`; the hidden layers, in order, `<name>_hidden`, `<name>_hidden2`,
 * ..., `<name>_hidden{n-1}` and the last one always `<name>_pool` (so one hidden layer is just
 * `<name>_pool`, two are `<name>_hidden` and `<name>_pool`, the benchmark's names); dropout after
 * hidden layer i (from 1) `<name>_dropout{i}`; `<name>_logits`. Hidden kernels are He-normal
 * with seeds `seed`, `seed + 1`, ..., the logits Glorot-uniform with `seed + hidden.length`;
 * biases start at zero. One seed gives the same weights bit for bit.
 *
 * Options are checked first: `unknown-option` (with a suggestion) for a misspelt key,
 * `bad-option` naming the key for a bad value (e.g. `hidden: []`, `classes: 1`).
 *
 * @example
 * ```ts
 * const student = mlp({ name: 'student', hidden: [64, 32], seed: 1 });
 * ```
 */
export function mlp(options: MlpOptions): tfl.LayersModel {
  const { name, hidden, seed, inputShape, classes, dropout } = parseOptions(mlpSchema, options, 'mlp');
  const model = tfl.sequential({ name });
  const flat = inputShape.length === 1;
  if (!flat) model.add(tfl.layers.flatten({ inputShape: [...inputShape], name: `${name}_flatten` }));
  hidden.forEach((units, i) => {
    model.add(
      tfl.layers.dense({
        ...(flat && i === 0 ? { inputShape: [...inputShape] } : {}),
        units,
        activation: 'relu',
        kernelInitializer: tfl.initializers.heNormal({ seed: seed + i }),
        name: `${name}_${hiddenName(i, hidden.length)}`,
      }),
    );
    if (dropout > 0) model.add(new SeededDropout({ rate: dropout, seed: seed + i, name: `${name}_dropout${i + 1}` }));
  });
  model.add(
    tfl.layers.dense({
      units: classes,
      kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + hidden.length }),
      name: `${name}_logits`,
    }),
  );
  return model;
}
