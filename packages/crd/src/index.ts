/**
 * `@kd/crd`: Contrastive Representation Distillation (Tian, Krishnan, Isola 2019) for `@kd/core`:
 * embedding heads, memory bank (or a MoCo-style embedding queue, `memory: 'queue'`), class-aware
 * negative sampling, NCE critic, the `crd` plugin, CRD-EN
 * (`crdEnsemble`) and cross-modal pairing (through `LabeledData.teacherX`).
 * @packageDocumentation
 */
export { CrdCritic, type CrdCriticOptions, type CrdCriticResult, type CrdCriticState, crdCriticSchema } from './critic';
export { EmbeddingQueue, type EmbeddingQueueOptions, type EmbeddingQueueState, embeddingQueueSchema } from './embeddingQueue';
export { EmbedHead, type EmbedHeadOptions, embedHeadSchema, l2Normalize } from './embedHead';
export { CrdError, type CrdErrorCode, crdErrorCodes } from './errors';
export { MemoryBank, type MemoryBankOptions, type MemoryBankState, memoryBankSchema } from './memoryBank';
export {
  type ContrastLogits,
  constantForGradient,
  contrastLogits,
  contrastScores,
  estimateZ,
  NCE_EPS,
  nceLoss,
  nceLossFromLogits,
  queueContrastLogits,
  type ScoringStrategy,
  sharedContrastLogits,
  sharedContrastScores,
} from './nce';
export {
  type CrdCommonOptions,
  type CrdEnsembleMember,
  type CrdMemory,
  type CrdOptions,
  type CrdQueueState,
  type CrdSampling,
  type CrdState,
  crd,
  crdEnsemble,
  crdEnsembleMemberSchema,
  crdEnsembleMembersSchema,
  crdEnsembleSchema,
  crdSchema,
} from './plugin';
export { CrdQueueCritic, type CrdQueueCriticOptions, type CrdQueueCriticState, crdQueueCriticSchema } from './queueCritic';
export { type QueueContrastIndices, queueNegatives } from './queueSampler';
export { type CrdEnsembleEntryOptions, registry } from './registry';
export {
  type ContrastIndices,
  type ContrastSample,
  NegativeSampler,
  type NegativeSamplerOptions,
  negativeSamplerSchema,
  type PositiveMode,
  type SharedContrastIndices,
} from './sampler';
