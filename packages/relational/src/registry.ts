import { defineRegistry, registryEntry } from '@kd/core';
import { correlationCongruence, correlationCongruenceSchema } from './correlationCongruence';
import { pkt, pktSchema } from './pkt';
import { rkd, rkdSchema } from './rkd';
import { similarityPreserving, similarityPreservingSchema } from './similarityPreserving';

/**
 * `@kd/relational`'s entries for config-file runs (`packages: ['@kd/relational']`, then
 * `methods: [{ method: rkd, student: ..., teacher: ... }]`): the four plugins, each under its
 * factory's name with the factory's own options schema (layer names, weights and sizes: all JSON
 * values). `student` and `teacher` are required, as in the factories. `create` calls the factory,
 * so a config-built plugin is the one the factory returns.
 */
export const registry = defineRegistry({
  methods: {
    similarityPreserving: registryEntry({
      schema: similarityPreservingSchema,
      summary:
        'weight * ||G_s - G_t||_F^2 / B^2, G = row-L2-normalised F F^T of the tapped features flattened per example ' +
        '(Tung & Mori 2019; weight 3000); term sp',
      create: (options) => similarityPreserving(options),
    }),
    rkd: registryEntry({
      schema: rkdSchema,
      summary:
        'weight * (distanceWeight * smoothL1(d_s / mean d_s, d_t / mean d_t) + angleWeight * smoothL1(angles_s, angles_t)) ' +
        'of the tapped features (Park et al. 2019; distanceWeight 25, angleWeight 50, weight 1); term rkd',
      create: (options) => rkd(options),
    }),
    pkt: registryEntry({
      schema: pktSchema,
      summary:
        'weight * mean(P_t * log((P_t + 1e-7) / (P_s + 1e-7))), P = row-normalised (cos + 1) / 2 between examples ' +
        '(Passalis & Tefas 2018; weight 30000); term pkt',
      create: (options) => pkt(options),
    }),
    correlationCongruence: registryEntry({
      schema: correlationCongruenceSchema,
      summary:
        'weight * mean_i sum(|e_s - e_t|_i * |e_s - e_t|_(i+1)), e = trained linear embeddings of the tapped features ' +
        '(Peng et al. 2019; embeddingSize 128, normalize false, weight 0.02); term cc',
      create: (options) => correlationCongruence(options),
    }),
  },
});
