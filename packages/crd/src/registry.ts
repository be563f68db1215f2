import { defineRegistry, optionsSchema, registryEntry } from '@kd/core';
import { withoutDefaults } from './optionalDefaults';
import {
  type CrdCommonOptions,
  type CrdEnsembleMember,
  type CrdOptions,
  crd,
  crdEnsemble,
  crdEnsembleMembersSchema,
  crdEnsembleSchema,
  crdSchema,
} from './plugin';

/** The options of the `crdEnsemble` entry: the factory's members and its options in one object. */
export interface CrdEnsembleEntryOptions extends CrdCommonOptions {
  /** One `{ student, teacher }` critic per teacher (`"<member>/<layer>"` taps of an ensemble teacher). */
  readonly members: readonly CrdEnsembleMember[];
}

/** The `crd` entry's schema: `crdSchema`'s keys and rules, defaults left to the factory. */
const crdEntrySchema = optionsSchema<CrdOptions>()(withoutDefaults(crdSchema.shape));

/** The `crdEnsemble` entry's schema: `members` plus `crdEnsembleSchema`'s keys, defaults left to the factory. */
const crdEnsembleEntrySchema = optionsSchema<CrdEnsembleEntryOptions>()({
  members: crdEnsembleMembersSchema.shape.members,
  ...withoutDefaults(crdEnsembleSchema.shape),
});

const NCE =
  'weight * (NCE(student anchors vs teacher memory) + NCE(teacher anchors vs student memory)), ' +
  'NCE = -mean_b(log h(pos) + sum_K log(1 - h(neg))), h = P / (P + K/N), P = exp(e_s . e_t / T) / Z, e = L2-normalised linear embeddings';
const DEFAULTS =
  "featureDim 128, negatives 16384, temperature 0.07, momentum 0.5, weight 1 (paper 0.8); memory 'banks', or 'queue' with queueSize";

/**
 * `@kd/crd`'s entries for config-file runs (`packages: ['@kd/crd']`, then
 * `methods: [{ method: crd, student: ..., teacher: ... }]`):
 *
 * - `crd`: the factory's options (all JSON values);
 * - `crdEnsemble` (CRD-EN): `{ members: [{ student, teacher }, ...], ...crd's options without
 *   student / teacher }`, i.e. `crdEnsemble(members, options)` in one object.
 *
 * The schemas have the factories' keys and rules but apply no defaults: `create` passes on the
 * options as the config gave them and the factory applies its defaults, because queue memory
 * refuses the banks' options only when they are given. So a config-built plugin is the one the
 * factory returns for the same options. Cross-modal CRD is no separate entry: it is `crd` on data
 * whose source gives `teacherX`.
 */
export const registry = defineRegistry({
  methods: {
    crd: registryEntry({
      schema: crdEntrySchema,
      summary: `${NCE} (Tian et al. 2019; ${DEFAULTS}); term crd`,
      create: (options) => crd(options),
    }),
    crdEnsemble: registryEntry({
      schema: crdEnsembleEntrySchema,
      summary: `sum over members (one critic per teacher) of ${NCE} (CRD-EN, Tian et al. 2019; ${DEFAULTS}); terms crd-en/<i>`,
      create: ({ members, ...options }) => crdEnsemble(members, options),
    }),
  },
});
