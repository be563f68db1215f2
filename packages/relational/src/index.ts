/**
 * `@kd/relational`: relational feature distillation for `@kd/core` — similarity-preserving
 * (Tung & Mori 2019), relational knowledge distillation (Park et al. 2019), probabilistic
 * knowledge transfer (Passalis & Tefas 2018) and correlation congruence (Peng et al. 2019), each
 * as a pure loss function and as a plugin tapping one student and one teacher layer.
 * @packageDocumentation
 */
export {
  type CorrelationCongruenceOptions,
  type CorrelationCongruenceState,
  correlationCongruence,
  correlationCongruenceLoss,
  correlationCongruenceSchema,
} from './correlationCongruence';
export { EmbeddingHead, type EmbeddingHeadOptions } from './embeddingHead';
export { RelationalError, type RelationalErrorCode, relationalErrorCodes } from './errors';
export { conditionalProbabilities, PKT_EPSILON, type PktOptions, pkt, pktLoss, pktSchema } from './pkt';
export { registry } from './registry';
export {
  anglePotentials,
  normalizedDistances,
  type RkdLossOptions,
  type RkdOptions,
  rkd,
  rkdAngleLoss,
  rkdDistanceLoss,
  rkdLoss,
  rkdLossSchema,
  rkdSchema,
} from './rkd';
export {
  type SimilarityPreservingOptions,
  similarityMatrix,
  similarityPreserving,
  similarityPreservingLoss,
  similarityPreservingSchema,
} from './similarityPreserving';
