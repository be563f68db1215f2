/**
 * `@kd/core`: the plugin contract, the `Distiller` trainer, Hinton's distillation losses,
 * ensemble teachers, learning-rate schedules and progress events. Node file IO lives in
 * `@kd/core/node`.
 * @packageDocumentation
 */
export type { Batch, LabeledData } from './batch';
export { BatchReader, type BatchReaderOptions, type ReadBatch } from './batchReader';
export {
  type Checkpoint,
  type CheckpointStore,
  decodeCheckpoint,
  encodeCheckpoint,
  memoryCheckpointStore,
  type TensorRecord,
} from './checkpoint';
export { registry } from './coreRegistry';
export { validateData } from './data';
export { type ContentDigest, sha256Digest } from './digest';
export { Distiller, type DistillerConfig, type FitOptions, type History, type TeacherCacheMode } from './distiller';
export {
  type CoreErrorCode,
  coreErrorCodes,
  DistillationError,
  type DistillationErrorOptions,
  ioError,
  isDistillationError,
  NonFiniteLossError,
} from './errors';
export { type EvaluateOptions, evaluateModel } from './evaluate';
export {
  type EpochLogs,
  type EvaluationResult,
  fanOut,
  jsonLines,
  type ProgressBarOptions,
  type ProgressEvent,
  type ProgressListener,
  progressBar,
  type TextSink,
} from './events';
export { modelFingerprint, tensorsFingerprint } from './fingerprints';
export { withLeanSaves } from './leanTape';
export { hardLabelLoss } from './losses/hardLabelLoss';
export { klDivergence } from './losses/klDivergence';
export { logitMatchingLoss } from './losses/logitMatchingLoss';
export { type SoftTargetForm, softTargetLoss, softTargetLossFromLogits } from './losses/softTargetLoss';
export { teacherLogProbabilities } from './losses/teacherLogProbabilities';
export { Adam, type AdamOptions, type AdamWOptions, adam, adamSchema, adamW, adamWSchema } from './optimizers/adam';
export { FUSED_UPDATE_KERNELS } from './optimizers/fusedUpdate';
export { isStatefulOptimizer, type NamedTensor, StatefulOptimizer } from './optimizers/optimizer';
export { Rmsprop, type RmspropOptions, rmsprop, rmspropSchema } from './optimizers/rmsprop';
export { Sgd, type SgdOptions, sgd, sgdSchema } from './optimizers/sgd';
export { formatPath, functionSchema, optionsSchema, parseOptions, suggest, weightSchema } from './options';
export type {
  AfterStepOutputs,
  DistillationPlugin,
  EnsembleMean,
  EpochContext,
  LossTerms,
  ModelOutputs,
  PluginCheckpoint,
  PluginTaps,
  SetupContext,
  StepContext,
  StepOutputs,
  TeacherOutputs,
  TeacherPrediction,
} from './plugin';
export { definePlugin } from './plugin';
export { type HardLabelOptions, hardLabel, hardLabelSchema } from './plugins/hardLabel';
export { type LogitMatchingOptions, logitMatching, logitMatchingSchema } from './plugins/logitMatching';
export { type SoftTargetsOptions, softTargets, softTargetsSchema } from './plugins/softTargets';
export { SeededRandom } from './random';
export {
  defineRegistry,
  type EmptyContext,
  lookupEntry,
  type MergedRegistry,
  type MethodEntry,
  type ModelContext,
  type ModelEntry,
  mergeRegistries,
  type OpenedData,
  type OptimizerEntry,
  REGISTRY_KINDS,
  type Registry,
  type RegistryEntry,
  type RegistryKind,
  registryEntry,
  type ScheduleEntry,
  type SourceContext,
  type SourceEntry,
} from './registry';
export {
  type CosineDecayOptions,
  constantRate,
  cosineDecay,
  cosineDecaySchema,
  type LearningRateSchedule,
  linearWarmup,
  type ScheduleProgress,
  type StepDecayOptions,
  stepDecay,
  stepDecaySchema,
} from './schedules';
export {
  integerSchema,
  isLabeledData,
  labeledDataSchema,
  nameSchema,
  nonNegativeSchema,
  openFractionSchema,
  positiveSchema,
  probabilitySchema,
  seedSchema,
  teacherSchema,
  tensorSchema,
} from './schemas';
export { type MethodContext, type SharedModuleSpec, SharedModules } from './sharedModules';
export { shuffleBufferOrder } from './shuffleBuffer';
export {
  batchTensors,
  checkBatch,
  checkSource,
  type DataSource,
  type ExampleId,
  isDataSource,
  isRandomAccess,
  type RandomAccessSource,
  readChecked,
  type SequentialSource,
  type SourceBatch,
  type SourceInfo,
  tensorSource,
} from './source';
export {
  fitStages,
  layersUpTo,
  type Stage,
  type StagedConfig,
  type StagedHooks,
  type StageInfo,
  type StageResult,
  type TrainableFilter,
  trainStudentLayers,
  trainStudentUpTo,
} from './stages';
export { subsetSource } from './subsetSource';
export { type LayerShape, TappedModel } from './taps';
export {
  type EnsembleOptions,
  ensembleTeacher,
  isTeacher,
  type PredictingModel,
  type Teacher,
  type TeacherBatch,
  type TeacherFunction,
  type TeacherLike,
  type TeacherRun,
  toTeacher,
} from './teacher';
export {
  type CachedTeacher,
  type CachedTeacherOptions,
  cachedTeacher,
  isCachedTeacher,
  type TeacherCacheStats,
} from './teacherCache/cachedTeacher';
export { memoryTeacherCacheStore, type TeacherCacheStore, type TeacherOutputRecord } from './teacherCache/stores';
export { ensembleOutputs, toTeacherOutputs } from './teacherOutputs';
export {
  type CosineWeight,
  checkWeight,
  cosineWeight,
  cosineWeightSchema,
  describeWeighted,
  type LinearWarmupWeight,
  linearWarmupWeight,
  linearWarmupWeightSchema,
  type StepWeight,
  scheduledWeightSchema,
  stepWeight,
  stepWeightSchema,
  type WeightSchedule,
  weightAt,
} from './weightSchedules';
