import { DistillationError, type DistillationErrorOptions } from '@kd/core';

/**
 * Every code `@kd/fitnet` throws itself, with what it means. Bad options are `@kd/core`'s
 * `unknown-option` / `bad-option`; weights of another shape given to `setWeights` / `loadState`
 * are core's `checkpoint-mismatch`. Match codes with `isDistillationError(error, code)`.
 */
export const fitnetErrorCodes = {
  'rank-mismatch':
    'The student feature and the teacher hint have different ranks (a vector against a map), or attention transfer got a non-NHWC tensor.',
  'unsupported-rank': 'A hint feature is neither a vector [batch, features] nor an NHWC map [batch, height, width, channels].',
  'unknown-size': 'A non-batch dimension of a tapped feature is unknown (null), so no regressor or pooling can be planned.',
  'unsupported-size-relation': 'No reference regressor (or integer average pooling) maps the student size onto the teacher size.',
  'feature-shape-mismatch':
    'Features at run time do not have the shape the regressor was built for, or regressed features and hint differ in shape.',
  'missing-feature': 'A tapped student or teacher feature the plugin needs is missing from the setup context or from the step.',
  'untrained-paraphraser':
    'A factor-transfer plugin got a Paraphraser that no paraphraser-training stage has built (nor paraphraser.restore(checkpoint) restored).',
  'batch-size-mismatch': 'Two tensors of one loss (student and teacher maps, prediction and target) have different batch sizes.',
} as const;

/** A code of `@kd/fitnet`'s own errors. */
export type FitnetErrorCode = keyof typeof fitnetErrorCodes;

/** An error of `@kd/fitnet` with one of {@link fitnetErrorCodes}; recognised by `isDistillationError`. */
export class FitnetError extends DistillationError<FitnetErrorCode> {
  constructor(code: FitnetErrorCode, message: string, options?: DistillationErrorOptions) {
    super(code, message, options);
    this.name = 'FitnetError';
  }
}
