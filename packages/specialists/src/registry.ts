import { defineRegistry } from '@kd/core';

/**
 * `@kd/specialists`' entries for config-file runs: none. The package exports no distillation
 * plugin, so it has no method entry (`packages: ['@kd/specialists']` loads and adds nothing):
 *
 * - `SpecialistEnsemble` is a teacher (`@kd/core`'s `Teacher`), not a method; it is built from
 *   trained models (the generalist and its specialists: `LayersModel`s or stored teachers), which a
 *   config of JSON values cannot hold, and a registry has no teacher kind.
 * - `confusableSubsets`, `specialistModel`, `sampleSpecialistData`, `trainSpecialist`,
 *   `generalistProbabilities` and `combine` are steps of the specialists' own training and
 *   inference, run from code on models and tensors (see the README's "Use").
 */
export const registry = defineRegistry({ methods: {} });
