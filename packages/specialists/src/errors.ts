import { DistillationError, type DistillationErrorOptions } from '@kd/core';

/**
 * Every code `@kd/specialists` throws itself, with what it means. Besides these it throws
 * `@kd/core`'s `bad-option` and `unknown-option` (options), `bad-data` (a data set that is not
 * `{ x, y }` tensors with one label per example), `bad-source` / `bad-input-shape` (a DataSource
 * that fails core's checks), `label-out-of-range`, `logits-not-2d` (a
 * generalist that does not output `[batch, classes]`) and `bad-teacher` (a specialist model that is
 * not teacher-like) with core's meaning. Match on `code` with `isDistillationError(error, code)`.
 */
export const specialistsErrorCodes = {
  'bad-subset':
    'A class subset is empty, repeats a class, has a class outside [0, classes) or covers every class (none left for the dustbin).',
  'subset-without-examples': "The labels have no example of the subset's classes, or none of the other classes (the dustbin).",
  'no-labels':
    "A DataSource given as training data (trainSpecialist, specialistTrainingSet, sampleSpecialistData) or as confusableSubsets' labels declares no labels; the sampler and the confusion matrix need all N labels before anything is read.",
  'bad-generalist': 'The generalist is not a LayersModel whose only output is its last layer, a Dense logits layer (linear, with bias).',
  'teacher-not-tappable': 'A plugin taps teacher layers, but the teacher is a SpecialistEnsemble (it has no single layer to tap).',
  'bad-probabilities':
    "The generalist's probabilities (or a distribution to fold) are not a 2-D [N, classes] tensor or a rectangular array of rows.",
  'too-few-predictions': 'confusableSubsets got fewer than 2 prediction rows (a covariance needs 2).',
  'label-count-mismatch': 'confusableSubsets got a different number of labels than prediction rows.',
  'bad-points': 'kMeans got no points, or points of different lengths.',
  'specialist-output-mismatch': "A specialist's logits are not [batch, classes.length + 1] (its classes plus the dustbin).",
  'bad-active-flags': "A SpecialistPrediction's active flags do not have one entry per example.",
} as const;

/** A code of `@kd/specialists`' own errors. */
export type SpecialistsErrorCode = keyof typeof specialistsErrorCodes;

/** An error `@kd/specialists` throws with one of its own codes (see {@link specialistsErrorCodes}). */
export class SpecialistsError extends DistillationError<SpecialistsErrorCode> {
  constructor(code: SpecialistsErrorCode, message: string, options?: DistillationErrorOptions) {
    super(code, message, options);
    this.name = 'SpecialistsError';
  }
}
