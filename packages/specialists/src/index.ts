/**
 * `@kd/specialists`: generalist + specialist models (Hinton, Vinyals, Dean 2015, sect. 5) for
 * `@kd/core` — confusable class subsets from the generalist's predictions, specialists with a
 * dustbin class built from the generalist, the half/half training sampler with its dustbin
 * correction, KL-combining inference, and `SpecialistEnsemble`, a `Teacher` for distilling the
 * ensemble back into one student.
 * @packageDocumentation
 */
export {
  activeSpecialists,
  type CombineDistributionsOptions,
  type CombineOptions,
  type CombineResult,
  combine,
  combineDistributions,
  combineDistributionsSchema,
  combineSchema,
  foldDistribution,
  type SpecialistPrediction,
  specialistSchema,
} from './combine';
export { coverageCounts, SpecialistEnsemble } from './ensemble';
export { SpecialistsError, type SpecialistsErrorCode, specialistsErrorCodes } from './errors';
export {
  type GeneralistProbabilitiesOptions,
  generalistProbabilities,
  generalistProbabilitiesSchema,
} from './probabilities';
export { registry } from './registry';
export {
  dustbinShift,
  type SpecialistSample,
  type SpecialistSampleOptions,
  sampleSpecialistData,
  sampleSpecialistDataSchema,
  specialistLabels,
  specialistTrainingSet,
} from './sampler';
export { type Specialist, type SpecialistModelOptions, shiftDustbin, specialistModel, specialistModelSchema } from './specialist';
export {
  type ConfusableSubsetsOptions,
  confusableSubsets,
  confusableSubsetsSchema,
  type KMeansResult,
  kMeans,
  type SubsetMethod,
} from './subsets';
export { type TrainSpecialistOptions, trainSpecialist, trainSpecialistSchema } from './train';
