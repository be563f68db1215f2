import { defineRegistry, registryEntry } from '@kd/core';
import { dist, distSchema } from './distPlugin';
import { dkd, dkdSchema } from './dkdPlugin';

/**
 * `@kd/logits`'s entries for config-file runs (`packages: ['@kd/logits']`, then
 * `methods: [{ method: dkd, ... }]`): the `dkd` and `dist` plugins, each under its factory's name
 * with the factory's own options schema (every option is a JSON value, so a config can give all of
 * them). `create` calls the factory, so a config-built plugin is the one `dkd(options)` /
 * `dist(options)` returns.
 */
export const registry = defineRegistry({
  methods: {
    dkd: registryEntry({
      schema: dkdSchema,
      summary:
        'weight * (alpha * TCKD + beta * NCKD) * T^2, weight warmed up linearly over warmupEpochs (Zhao et al. 2022; ' +
        'alpha 1, beta 8, T 4, warm-up 20 epochs, weight 1); term dkd; reads integer labels',
      create: (options) => dkd(options),
    }),
    dist: registryEntry({
      schema: distSchema,
      summary:
        'weight * T^2 * (beta * (1 - mean_i pearson(q_i, p_i)) + gamma * (1 - mean_c pearson(q_c, p_c))), p, q = softmax(z / T) ' +
        '(Huang et al. 2022; beta 1, gamma 1, T 1, weight 1); term dist',
      create: (options) => dist(options),
    }),
  },
});
