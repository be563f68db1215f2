import { DistillationError, type DistillationErrorOptions } from '@kd/core';

/**
 * Every code `@kd/relational` throws itself, with what it means. Bad options are `@kd/core`'s
 * `unknown-option` / `bad-option`; head weights of another shape given to `loadState` are core's
 * `checkpoint-mismatch`. Match codes with `isDistillationError(error, code)`.
 */
export const relationalErrorCodes = {
  'not-a-tensor': 'A student or teacher feature given to a relational loss is not a tfjs tensor.',
  'bad-dtype': 'A feature tensor is not float32 (integer or boolean features are not converted silently).',
  'unsupported-rank': 'A feature is neither a vector batch [batch, features] nor an NHWC map [batch, height, width, channels].',
  'empty-feature': 'A feature has no values per example (a zero-sized dimension).',
  'batch-size-mismatch': 'The student and teacher features hold different numbers of examples.',
  'batch-too-small': 'The batch has fewer examples than the relations need: 2 for pairs (SP, PKT, CC), 3 for the angle triples of RKD.',
  'feature-shape-mismatch':
    'CC got student and teacher embeddings of different shapes, or a feature does not have the size its embedding head was built for.',
  'unknown-size': 'A non-batch dimension of a tapped layer is unknown (null), so no embedding head can be sized for it.',
  'missing-feature': 'A tapped student or teacher feature the plugin needs is missing from the setup context or from the step.',
} as const;

/** A code of `@kd/relational`'s own errors. */
export type RelationalErrorCode = keyof typeof relationalErrorCodes;

/** An error of `@kd/relational` with one of {@link relationalErrorCodes}; recognised by `isDistillationError`. */
export class RelationalError extends DistillationError<RelationalErrorCode> {
  constructor(code: RelationalErrorCode, message: string, options?: DistillationErrorOptions) {
    super(code, message, options);
    this.name = 'RelationalError';
  }
}
