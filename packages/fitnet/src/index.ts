/**
 * `@kd/fitnet`: FitNets hints (Romero et al. 2015) — dense, conv, strided-conv and
 * transposed-conv hint regressors, the `fitnet` plugin for one- and two-stage training — and
 * attention transfer (Zagoruyko & Komodakis 2017) for `@kd/core`.
 * @packageDocumentation
 */
export { type AttentionPair, type AttentionTransferOptions, attentionLoss, attentionMap, attentionTransfer } from './attention';
export { type FitnetOptions, type FitnetState, fitnet } from './fitnet';
export {
  HintRegressor,
  type HintRegressorOptions,
  hintLoss,
  planRegressor,
  type RegressorKind,
  type RegressorPlan,
} from './regressor';
