import { DistillationError, defineRegistry, type ModelContext, registryEntry } from '@kd/core';
import { mlp, mlpSchema } from './mlp';
import { contextKeys, withContext } from './modelContext';
import { exampleShapeSchema, imageShapeSchema } from './schemas';
import { type SmallCnnOptions, smallCnn, smallCnnSchema } from './smallCnn';

/** The config's `smallCnn` options: {@link smallCnnSchema} whose context keys default to the run's. */
const smallCnnEntrySchema = smallCnnSchema.extend(contextKeys(imageShapeSchema));

/** The config's `mlp` options: {@link mlpSchema} whose context keys default to the run's. */
const mlpEntrySchema = mlpSchema.extend(contextKeys(exampleShapeSchema));

/** The run's example shape, when the config sets none, must be an image for a CNN. */
function imageShapeOf(context: ModelContext): readonly [number, number, number] {
  const shape = context.inputShape;
  if (!imageShapeSchema.safeParse(shape).success) {
    throw new DistillationError(
      'bad-option',
      `smallCnn: the data's example shape [${shape.join(', ')}] is not an image [height, width, channels] with height and width >= 4; ` +
        'set the option "inputShape" or use the model mlp',
    );
  }
  return shape as readonly [number, number, number];
}

/**
 * `@kd/models`' entries for config-file runs: `smallCnn` and `mlp`, with the builders' options.
 * `name`, `seed`, `inputShape` and `classes` come from the run (the model's role, the run's seed,
 * the data's example shape and class count) unless the config sets them: the config wins.
 *
 * @example
 * ```yaml
 * student: { builder: smallCnn, options: { filters: [8, 16], dense: 32 } }
 * ```
 */
export const registry = defineRegistry({
  models: {
    smallCnn: registryEntry({
      schema: smallCnnEntrySchema,
      summary:
        'conv3x3(filters[0]) - relu - maxpool2 - conv3x3(filters[1]) - relu - maxpool2 - dense(dense) - relu - dense(classes); taps _block1, _block2, _pool',
      create: (options, context: ModelContext) =>
        smallCnn({
          ...withContext(options, context),
          inputShape: options.inputShape ?? imageShapeOf(context),
        } as SmallCnnOptions),
    }),
    mlp: registryEntry({
      schema: mlpEntrySchema,
      summary: 'flatten - dense(hidden[0]) - relu - ... - dense(hidden[n-1]) (_pool) - relu - dense(classes); dropout 0 after each hidden',
      create: (options, context: ModelContext) => mlp(withContext(options, context)),
    }),
  },
});
