/**
 * `@kd/bit`: Big Transfer (BiT, Kolesnikov et al. 2019) for `@kd/core` — the
 * `GroupNormalization` and `StandardizedConv2D` layers (registered for serialisation), ResNet-v2
 * builders with BiT's weight names, the BiT-HyperRule, BiT preprocessing and MixUp as plugins,
 * and `bitFineTune`. Node file IO (`loadBitWeights`) lives in `@kd/bit/node`.
 * @packageDocumentation
 */
export {
  bitEvalPreprocess,
  bitEvalPreprocessSchema,
  bitPreprocess,
  bitPreprocessSchema,
  type EvalPreprocessOptions,
  isHyperRule,
  type MixupOptions,
  mixup,
  mixupSchema,
  type PreprocessOptions,
  preprocessEvalBatch,
  preprocessTrainBatch,
  sampleBeta,
  sampleGamma,
} from './augment';
export { BitError, type BitErrorCode, bitErrorCodes } from './errors';
export { type BitFineTuneOptions, type BitFineTuneResult, bitFineTune, bitFineTuneSchema } from './finetune';
export {
  type HyperRule,
  type HyperRuleOptions,
  type HyperRuleResolution,
  hyperRule,
  hyperRuleBoundaries,
  hyperRuleSchema,
} from './hyperrule';
export {
  GroupNormalization,
  type GroupNormalizationArgs,
  groupNorm,
  groupNormalizationSchema,
  type LayerInitializer,
  StandardizedConv2D,
  type StandardizedConv2DArgs,
  standardizedConv2DSchema,
  standardizeWeight,
  type WeightStandardization,
} from './layers';
export {
  BIT_PREFIX,
  BIT_UNITS,
  type BitResNetOptions,
  type BitResNetSmallOptions,
  bitResNet,
  bitResNetSchema,
  bitResNetSmall,
  bitResNetSmallSchema,
  countParams,
  type Normalization,
  PRE_LOGITS,
  type ResNetV2Config,
  type ResNetV2Stage,
  resNetV2,
  resNetV2Schema,
  resNetV2StageSchema,
} from './models';
export {
  type AssignWeightsOptions,
  type AssignWeightsReport,
  assignBitWeights,
  assignBitWeightsSchema,
  type NpyArray,
  parseNpy,
  parseNpz,
} from './npz';
export { registry } from './registry';
