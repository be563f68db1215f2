import { defineRegistry, registryEntry } from '@kd/core';
import { activationBoundary, activationBoundarySchema } from './ab';
import { attentionTransfer, attentionTransferSchema } from './attention';
import { fitnet, fitnetSchema } from './fitnet';
import { flowOfSolution, flowOfSolutionSchema } from './fsp';
import { factorTransferEntry, paraphraserTrainingEntry } from './ftEntries';
import { neuronSelectivityTransfer, neuronSelectivityTransferSchema } from './nst';
import { variationalInformation, variationalInformationSchema } from './vid';

/**
 * `@kd/fitnet`'s entries for config-file runs (`packages: ['@kd/fitnet']`, then
 * `methods: [{ method: fitnet, student: ..., teacher: ... }]`): `fitnet`, `attentionTransfer`,
 * `neuronSelectivityTransfer`, `variationalInformation`, `flowOfSolution`,
 * `activationBoundary`, `paraphraserTraining` and `factorTransfer`, each under its factory's name
 * with the factory's own options schema (layer names, weights, sizes: all JSON values; FT's
 * `paraphraser` object is given by its options). `create` calls the factory, so a config-built
 * plugin is the one the factory returns.
 *
 * Stage-wise methods are one entry per stage plugin; the config's stages (`{ epochs, methods,
 * trainable }`) compose them: FitNets' stage 1 is `fitnet` alone with the student trainable up to
 * the guided layer, then KD; FSP's and AB's init stages are `flowOfSolution` /
 * `activationBoundary` alone with the student trainable up to the last tapped layer, then
 * cross-entropy + KD. FT is `paraphraserTraining` alone with `trainable: plugins` (only the
 * paraphraser learns), then `factorTransfer` (+ `hardLabel`): both entries take the
 * paraphraser's options under `paraphraser`, and entries giving one paraphraser `name` share one
 * `Paraphraser` through the run's shared modules (see `ftEntries`), which the runner also
 * restores from the checkpoint when a run resumes and disposes when it ends.
 */
export const registry = defineRegistry({
  methods: {
    fitnet: registryEntry({
      schema: fitnetSchema,
      summary:
        'weight * mean((regressor(student) - hint)^2), regressor dense or conv + BN + ReLU chosen from the shapes (Romero et al. 2015; ' +
        'weight 1, relu true); stage 1 of the paper (trainable up to the guided layer, then KD), or joint with hardLabel at ' +
        'weight 100 (RepDistiller); term fitnet',
      create: (options) => fitnet(options),
    }),
    attentionTransfer: registryEntry({
      schema: attentionTransferSchema,
      summary:
        'beta * sum over pairs of mean((A_s - A_t)^2), A = L2-normalised mean over channels of f^p, the larger map pooled ' +
        '(Zagoruyko & Komodakis 2017; beta 1000, p 2); term at',
      create: (options) => attentionTransfer(options),
    }),
    neuronSelectivityTransfer: registryEntry({
      schema: neuronSelectivityTransferSchema,
      summary:
        'weight * sum over pairs of MMD^2 = mean(K_tt) + mean(K_ss) - 2 mean(K_st), k(a, b) = (a . b)^2 of L2-normalised channel ' +
        'maps (Huang & Wang 2017; weight 50); term nst',
      create: (options) => neuronSelectivityTransfer(options),
    }),
    variationalInformation: registryEntry({
      schema: variationalInformationSchema,
      summary:
        'weight * mean(0.5 * (log var + (t - mu(s))^2 / var)), mu = 1x1-conv regressor, var = softplus(alpha) + epsilon per teacher ' +
        'channel (Ahn et al. 2019; weight 1, initVariance 5, epsilon 1e-5, hiddenChannels = teacher channels); term vid',
      create: (options) => variationalInformation(options),
    }),
    flowOfSolution: registryEntry({
      schema: flowOfSolutionSchema,
      summary:
        'weight * sum over pairs of mean((G_s - G_t)^2), G = F1^T F2 / (H W) of two maps of one network (Yim et al. 2017; weight 1); ' +
        'the init stage (alone, trainable up to the last tapped layer), then hardLabel + softTargets; term fsp',
      create: (options) => flowOfSolution(options),
    }),
    activationBoundary: registryEntry({
      schema: activationBoundarySchema,
      summary:
        'weight * 3/1000 * sum((s + m)^2 [s > -m, t <= 0] + (s - m)^2 [s <= m, t > 0]) / B on pre-activations, s = connector(student) ' +
        '(Heo et al. 2019; margin 1, weight 1); the init stage (alone, trainable up to the tapped layer), then hardLabel + softTargets; term ab',
      create: (options) => activationBoundary(options),
    }),
    paraphraserTraining: paraphraserTrainingEntry,
    factorTransfer: factorTransferEntry,
  },
});
