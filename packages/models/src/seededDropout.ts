import { DistillationError, integerSchema, optionsSchema, parseOptions, SeededRandom, seedSchema } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';

/** Options of {@link SeededDropout} (the usual layer options `name`, `inputShape`, ... too). */
export interface SeededDropoutArgs {
  /** Fraction of the units dropped in training, in [0, 1). */
  readonly rate: number;
  /** Seed of the masks. Default 0. */
  readonly seed?: number;
  /** Training calls already made (the first mask drawn is this one's). Default 0; saved models keep theirs. */
  readonly step?: number;
  readonly name?: string;
  readonly inputShape?: readonly (number | null)[];
  readonly batchInputShape?: readonly (number | null)[];
  readonly trainable?: boolean;
  readonly dtype?: 'float32';
}

const rateSchema = z
  .number({ message: 'must be a number in [0, 1)' })
  .min(0, { message: 'must be in [0, 1)' })
  .lt(1, { message: 'must be in [0, 1)' });

/** Schema of {@link SeededDropoutArgs}. */
export const seededDropoutSchema = optionsSchema<SeededDropoutArgs>()({
  rate: rateSchema,
  seed: seedSchema.default(0),
  step: integerSchema(0).default(0),
  name: z.string().min(1).optional(),
  inputShape: z.array(z.number().int().positive().nullable()).optional(),
  batchInputShape: z.array(z.number().int().positive().nullable()).optional(),
  trainable: z.boolean().optional(),
  dtype: z.literal('float32').optional(),
});

/** Layers built without a name so far (their default names are `seeded_dropout_<n>`). */
let unnamed = 0;

/** Purpose name of the masks' generators ({@link SeededRandom.keyed}). */
const PURPOSE = 'dropout';

/**
 * The keep-mask of training call `step` of a {@link SeededDropout} with `seed` and `rate`, for
 * `size` units: element i is `1 / (1 - rate)` when `SeededRandom.keyed(seed, 'dropout', step)`'s
 * i-th draw is `>= rate`, else 0. A pure function of its arguments, so any backend, process or
 * resumed run gets the same mask.
 */
export function dropoutMask(seed: number, step: number, rate: number, size: number): Float32Array {
  const random = SeededRandom.keyed(seed, PURPOSE, step);
  const scale = 1 / (1 - rate);
  const mask = new Float32Array(size);
  for (let i = 0; i < size; i++) mask[i] = random.next() >= rate ? scale : 0;
  return mask;
}

/**
 * Dropout whose masks come from the project's seeded generator instead of tfjs' unseeded one,
 * so a training run with dropout reproduces bit for bit. Training call `n` (counted from 0 by
 * the layer) multiplies its input by {@link dropoutMask}`(seed, n, rate, size)` (inverted
 * dropout: kept units are scaled by `1 / (1 - rate)`, so the gradient is the mask itself);
 * inference (`training` unset or false) is the identity, and so is `rate` 0.
 *
 * The call counter is a non-trainable int32 weight `step` (scalar), so checkpoints of the model's
 * weights (`Distiller`'s, `model.save`) carry it and a resumed run draws the masks an unbroken run
 * would. Reading it costs one scalar download per training call.
 *
 * Serialised as `kd>SeededDropout` (config `rate`, `seed`); loads with `tfl.loadLayersModel`
 * once `@kd/models` is imported. Bad options throw `bad-option` / `unknown-option`.
 *
 * @example
 * ```ts
 * const layer = new SeededDropout({ rate: 0.5, seed: 7, name: 'drop' });
 * ```
 */
export class SeededDropout extends tfl.layers.Layer {
  static readonly className = 'kd>SeededDropout';
  readonly rate: number;
  readonly seed: number;
  private readonly initialStep: number;
  private stepWeight?: tfl.LayerVariable;

  constructor(args: SeededDropoutArgs) {
    const parsed = parseOptions(seededDropoutSchema, args, 'SeededDropout');
    const { rate, seed, step, ...layerArgs } = parsed;
    super({ ...layerArgs, name: layerArgs.name ?? `seeded_dropout_${++unnamed}` } as never);
    this.rate = rate;
    this.seed = seed;
    this.initialStep = step;
    this.supportsMasking = true;
  }

  override build(_inputShape: tfl.Shape | tfl.Shape[]): void {
    this.stepWeight = this.addWeight('step', [], 'int32', tfl.initializers.zeros(), undefined, false);
    if (this.initialStep !== 0) {
      const value = tf.scalar(this.initialStep, 'int32');
      this.stepWeight.write(value);
      value.dispose();
    }
    this.built = true;
  }

  /** Training calls made so far (the next training call draws mask number `step`). */
  get step(): number {
    if (!this.stepWeight) return this.initialStep;
    return (this.stepWeight.read().dataSync() as Int32Array)[0]!;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    if (!kwargs['training'] || this.rate === 0) return tf.clone(x);
    if (x.dtype !== 'float32') {
      throw new DistillationError('bad-option', `SeededDropout "${this.name}": expected a float32 input, got ${x.dtype}`);
    }
    const step = this.step;
    const mask = tf.tensor(dropoutMask(this.seed, step, this.rate, x.size), x.shape, 'float32');
    const next = tf.scalar(step + 1, 'int32');
    this.stepWeight!.write(next);
    next.dispose();
    const y = tf.mul(x, mask);
    mask.dispose();
    return y;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return inputShape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate, seed: this.seed };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    const { rate, seed, name, trainable, batchInputShape } = config as Record<string, unknown>;
    return new cls({
      rate,
      seed,
      ...(name !== undefined ? { name } : {}),
      ...(trainable !== undefined ? { trainable } : {}),
      ...(batchInputShape != null ? { batchInputShape } : {}),
    });
  }
}

tf.serialization.registerClass(SeededDropout, 'kd', 'SeededDropout');
