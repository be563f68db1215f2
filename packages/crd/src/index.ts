/**
 * `@kd/crd`: Contrastive Representation Distillation (Tian, Krishnan, Isola 2019) for `@kd/core`:
 * embedding heads, memory bank, class-aware negative sampling, NCE critic, the `crd` plugin, CRD-EN
 * (`crdEnsemble`) and cross-modal pairing (through `LabeledData.teacherX`).
 * @packageDocumentation
 */
export { CrdCritic, type CrdCriticOptions, type CrdCriticResult, type CrdCriticState, crdCriticSchema } from './critic';
export { EmbedHead, type EmbedHeadOptions, embedHeadSchema, l2Normalize } from './embedHead';
export { CrdError, type CrdErrorCode, crdErrorCodes } from './errors';
export { MemoryBank, type MemoryBankOptions, type MemoryBankState, memoryBankSchema } from './memoryBank';
export {
  type ContrastLogits,
  contrastLogits,
  contrastScores,
  estimateZ,
  NCE_EPS,
  nceLoss,
  nceLossFromLogits,
  type ScoringStrategy,
  sharedContrastLogits,
  sharedContrastScores,
} from './nce';
export {
  type CrdCommonOptions,
  type CrdEnsembleMember,
  type CrdOptions,
  type CrdSampling,
  type CrdState,
  crd,
  crdEnsemble,
  crdEnsembleMemberSchema,
  crdEnsembleMembersSchema,
  crdEnsembleSchema,
  crdSchema,
} from './plugin';
export {
  type ContrastIndices,
  type ContrastSample,
  NegativeSampler,
  type NegativeSamplerOptions,
  negativeSamplerSchema,
  type PositiveMode,
  type SharedContrastIndices,
} from './sampler';
