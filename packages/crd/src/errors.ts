import { DistillationError, type DistillationErrorOptions } from '@kd/core';

/**
 * Every code `@kd/crd` throws itself, with what it means. Bad options are `@kd/core`'s
 * `unknown-option` / `bad-option`; a missing teacher, an untapped layer and a checkpoint of another
 * run are core's `no-teacher`, `unknown-layer` and `checkpoint-mismatch`; labels that are not
 * class indices are core's `bad-labels`. Match codes with `isDistillationError(error, code)`.
 */
export const crdErrorCodes = {
  'too-many-negatives':
    'K negatives must be fewer than the N training examples (or the shared variant has no example left outside the batch).',
  'missing-indices':
    'A batch carries no sample index of its examples (batch.index [batch] int32), which CRD needs to address the memory bank.',
  'index-out-of-range': 'A sample index is not an integer row of the memory bank [0, N).',
  'feature-dim-mismatch':
    'A feature or embedding does not have the size the head or bank was built for (or a tapped layer has no fixed size).',
  'bad-contrast': 'Contrast indices or scores do not form [B, K+1] rows with K >= 1 for the batch.',
  'no-labels': "CRD needs the training labels (positive mode 'relax', or class-aware negatives) and the data gives none.",
  'single-class': 'Every training example has the same label, so class-aware sampling finds no negative.',
  'non-finite-normaliser': 'The NCE normaliser Z estimated on the first batch is NaN, infinite or not positive.',
  'queue-incompatible':
    "An option that needs the per-example memory banks (class-aware negatives, positive 'relax', negatives, momentum, sampling, scoring) was given with memory: 'queue'.",
} as const;

/** A code of `@kd/crd`'s own errors. */
export type CrdErrorCode = keyof typeof crdErrorCodes;

/** An error of `@kd/crd` with one of {@link crdErrorCodes}; recognised by `isDistillationError`. */
export class CrdError extends DistillationError<CrdErrorCode> {
  constructor(code: CrdErrorCode, message: string, options?: DistillationErrorOptions) {
    super(code, message, options);
    this.name = 'CrdError';
  }
}
