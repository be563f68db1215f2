/**
 * `@kd/bit`: Big Transfer (BiT, Kolesnikov et al. 2019) for `@kd/core` — the
 * `GroupNormalization` and `StandardizedConv2D` layers (registered for serialisation), ResNet-v2
 * builders with BiT's weight names, the BiT-HyperRule, BiT preprocessing and MixUp as plugins,
 * and `bitFineTune`. Node file IO (`loadBitWeights`) lives in `@kd/bit/node`.
 * @packageDocumentation
 */
export {
  bitEvalPreprocess,
  bitPreprocess,
  type MixupOptions,
  mixup,
  type PreprocessOptions,
  preprocessEvalBatch,
  preprocessTrainBatch,
  sampleBeta,
  sampleGamma,
} from './augment';
export { type BitFineTuneOptions, type BitFineTuneResult, bitFineTune } from './finetune';
export { type HyperRule, type HyperRuleOptions, type HyperRuleResolution, hyperRule, hyperRuleBoundaries } from './hyperrule';
export {
  GroupNormalization,
  type GroupNormalizationArgs,
  groupNorm,
  StandardizedConv2D,
  type StandardizedConv2DArgs,
  standardizeWeight,
  type WeightStandardization,
} from './layers';
export {
  BIT_PREFIX,
  BIT_UNITS,
  type BitResNetOptions,
  type BitResNetSmallOptions,
  bitResNet,
  bitResNetSmall,
  countParams,
  PRE_LOGITS,
  type ResNetV2Config,
  type ResNetV2Stage,
  resNetV2,
} from './models';
export {
  type AssignWeightsOptions,
  type AssignWeightsReport,
  assignBitWeights,
  type NpyArray,
  parseNpy,
  parseNpz,
} from './npz';
