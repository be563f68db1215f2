import { DistillationError, defineRegistry, type ModelContext, registryEntry } from '@kd/core';
import { bitResNet, bitResNetSchema, bitResNetSmall, bitResNetSmallSchema } from './models';

type ImageShape = readonly [number | null, number | null, number];

/** The run's example shape as a builder's `[H, W, C]` input shape; anything else is refused, naming the builder. */
function imageShapeOf(context: ModelContext, where: string): ImageShape {
  const shape = context.inputShape;
  if (shape.length !== 3 || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new DistillationError(
      'bad-option',
      `${where}: the data's example shape [${shape.join(', ')}] is not an image [height, width, channels]; set the option "inputShape"`,
    );
  }
  return shape as unknown as ImageShape;
}

/**
 * The config's `bitResNet` options: {@link bitResNetSchema} whose `classes`, `inputShape` and
 * `seed` are optional without defaults, taken from the run when left out (the builder has no
 * `name`: its models are named `bit_r{depth}x{width}`).
 */
const bitResNetEntrySchema = bitResNetSchema.extend({
  classes: bitResNetSchema.shape.classes.optional(),
  inputShape: bitResNetSchema.shape.inputShape.removeDefault().optional(),
  seed: bitResNetSchema.shape.seed.removeDefault().optional(),
});

/** The config's `bitResNetSmall` options: {@link bitResNetSmallSchema} whose `classes`, `inputShape`, `seed` and `name` default to the run's. */
const bitResNetSmallEntrySchema = bitResNetSmallSchema.extend({
  classes: bitResNetSmallSchema.shape.classes.optional(),
  inputShape: bitResNetSmallSchema.shape.inputShape.removeDefault().optional(),
  seed: bitResNetSmallSchema.shape.seed.removeDefault().optional(),
});

/**
 * `@kd/bit`'s entries for config-file runs: the ResNet-v2 builders `bitResNet` and
 * `bitResNetSmall`, with their options (all JSON). `classes`, `inputShape` and `seed` (and
 * `bitResNetSmall`'s `name`) come from the run (the data's class count and example shape, the
 * run's seed, the model's role) unless the config sets them: the config wins. `resNetV2` (a
 * full architecture description) is not registered; the layers, preprocessing, MixUp and
 * fine-tuning are not models.
 *
 * @example
 * ```yaml
 * packages: ['@kd/bit']
 * student: { builder: bitResNetSmall, options: { units: [1, 1, 1], width: 1, groups: 8 } }
 * ```
 */
export const registry = defineRegistry({
  models: {
    bitResNet: registryEntry({
      schema: bitResNetEntrySchema,
      summary:
        'BiT ResNet-v2 R{depth}x{width}: StdConv 7x7/2 + max-pool 3x3/2, 4 stages of pre-activation bottlenecks (GN 32 groups + WS), GN - relu - GAP (resnet/pre_logits) - 1x1 conv head',
      create: (options, context: ModelContext) =>
        bitResNet({
          ...options,
          classes: options.classes ?? context.classes,
          inputShape: options.inputShape ?? imageShapeOf(context, 'bitResNet'),
          seed: options.seed ?? context.seed,
        }),
    }),
    bitResNetSmall: registryEntry({
      schema: bitResNetSmallEntrySchema,
      summary:
        'BiT-style ResNet-v2 for small images: StdConv 3x3 root (16*width), 3 stages (units, cout 64/128/256 * width, strides 1/2/2) of GN + WS bottlenecks (groups 8; normalization: batch for BatchNorm + plain conv), GAP (resnet/pre_logits) - 1x1 conv head',
      create: (options, context: ModelContext) =>
        bitResNetSmall({
          ...options,
          classes: options.classes ?? context.classes,
          inputShape: options.inputShape ?? imageShapeOf(context, 'bitResNetSmall'),
          seed: options.seed ?? context.seed,
          name: options.name ?? context.name,
        }),
    }),
  },
});
