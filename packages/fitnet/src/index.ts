/**
 * `@kd/fitnet`: feature distillation for `@kd/core` — FitNets hints (Romero et al. 2015: dense,
 * conv, strided-conv and transposed-conv hint regressors, the `fitnet` plugin for one- and
 * two-stage training), attention transfer (Zagoruyko & Komodakis 2017), neuron selectivity
 * transfer (Huang & Wang 2017), variational information distillation (Ahn et al. 2019), FSP
 * (Yim et al. 2017), activation boundaries (Heo et al. 2019) and factor transfer (Kim et al. 2018).
 * @packageDocumentation
 */

export {
  type ActivationBoundaryLossOptions,
  type ActivationBoundaryOptions,
  type ActivationBoundaryState,
  activationBoundary,
  activationBoundaryLoss,
  activationBoundaryLossSchema,
  activationBoundarySchema,
} from './ab';
export {
  type AttentionPair,
  type AttentionTransferOptions,
  attentionLoss,
  attentionMap,
  attentionPairSchema,
  attentionTransfer,
  attentionTransferSchema,
} from './attention';
export { FitnetError, type FitnetErrorCode, fitnetErrorCodes } from './errors';
export { type FitnetOptions, type FitnetState, fitnet, fitnetSchema } from './fitnet';
export {
  type FlowOfSolutionOptions,
  type FlowOfSolutionPair,
  type FspMapPair,
  flowOfSolution,
  flowOfSolutionPairSchema,
  flowOfSolutionSchema,
  fspLoss,
  fspMatrix,
} from './fsp';
export {
  type FactorForm,
  type FactorTransferLossOptions,
  type FactorTransferOptions,
  type FactorTransferState,
  factorTransfer,
  factorTransferLoss,
  factorTransferLossSchema,
  factorTransferSchema,
  Paraphraser,
  type ParaphraserOptions,
  type ParaphraserTrainingOptions,
  paraphraserSchema,
  paraphraserTraining,
  paraphraserTrainingSchema,
  Translator,
  type TranslatorOptions,
  translatorSchema,
} from './ft';
export {
  type NeuronSelectivityTransferOptions,
  type NstPair,
  neuronSelectivityTransfer,
  neuronSelectivityTransferSchema,
  nstLoss,
  nstPairSchema,
} from './nst';
export { registry } from './registry';
export {
  HintRegressor,
  type HintRegressorOptions,
  hintLoss,
  hintRegressorSchema,
  planRegressor,
  type RegressorKind,
  type RegressorPlan,
} from './regressor';
export {
  initialLogScale,
  type VariationalInformationOptions,
  type VariationalInformationState,
  VariationalRegressor,
  type VariationalRegressorOptions,
  variationalInformation,
  variationalInformationLoss,
  variationalInformationSchema,
  variationalRegressorSchema,
} from './vid';
