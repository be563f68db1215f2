import { type MethodContext, registryEntry } from '@kd/core';
import type { z } from 'zod';
import { factorTransfer, factorTransferSchema, Paraphraser, paraphraserSchema, paraphraserTraining, paraphraserTrainingSchema } from './ft';

/**
 * A config's `paraphraser`: the {@link Paraphraser}'s own options (`rate`, `batchNorm`,
 * `epsilon`, `name`; all optional). Method entries of one run that give the same `name` share
 * ONE paraphraser, so the `paraphraserTraining` stage trains the object `factorTransfer` uses in
 * the next; giving one name with other options is `shared-module-conflict`.
 */
export const sharedParaphraserSchema = paraphraserSchema.prefault({});

/** Options of the `paraphraserTraining` config entry: the factory's, with the paraphraser given by its options. */
export const paraphraserTrainingEntrySchema = paraphraserTrainingSchema.extend({ paraphraser: sharedParaphraserSchema });

/** Options of the `factorTransfer` config entry: the factory's, with the paraphraser given by its options. */
export const factorTransferEntrySchema = factorTransferSchema.extend({ paraphraser: sharedParaphraserSchema });

/**
 * The run's paraphraser named `options.name`: made on first request, restored from the run's
 * checkpoint when it resumes (a transfer stage resumed after the kill finds it trained), and
 * disposed when the run ends.
 */
function sharedParaphraser(options: z.output<typeof sharedParaphraserSchema>, context: MethodContext): Paraphraser {
  return context.shared(`@kd/fitnet/paraphraser/${options.name}`, {
    options,
    create: () => new Paraphraser(options),
    restore: (paraphraser, checkpoint) => {
      paraphraser.restore(checkpoint);
    },
    dispose: (paraphraser) => paraphraser.dispose(),
  });
}

/** FT's init stage from a config: {@link paraphraserTraining} with the run's shared paraphraser. */
export const paraphraserTrainingEntry = registryEntry({
  schema: paraphraserTrainingEntrySchema,
  summary:
    'weight * mean((decoder(encoder(t)) - t)^2), the paraphraser a conv 3x3 autoencoder C -> C -> kC -> kC -> C -> C with LeakyReLU(0.1) ' +
    "(Kim et al. 2018; weight 1, rate k 0.5); FT's init stage: alone, with trainable: plugins, and the same paraphraser (by name) as " +
    'the factorTransfer of the next stage; term paraphraser',
  create: (options, context: MethodContext) =>
    paraphraserTraining({ ...options, paraphraser: sharedParaphraser(options.paraphraser, context) }),
});

/** FT's transfer stage from a config: {@link factorTransfer} with the run's shared paraphraser, frozen. */
export const factorTransferEntry = registryEntry({
  schema: factorTransferEntrySchema,
  summary:
    'weight * mean(|u_s - u_t|), u = L2-normalised mean over channels of f^2 of translator(student) and of the frozen paraphraser ' +
    "encoder(teacher) (Kim et al. 2018; weight 200, factor squared-mean, translator batchNorm true); after FT's paraphraserTraining " +
    'stage, with the same paraphraser (by name); term ft',
  create: (options, context: MethodContext) => factorTransfer({ ...options, paraphraser: sharedParaphraser(options.paraphraser, context) }),
});
