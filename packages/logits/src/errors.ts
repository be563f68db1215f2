import { DistillationError, type DistillationErrorOptions } from '@kd/core';

/**
 * Every code `@kd/logits` throws itself, with what it means. The package also throws `@kd/core`'s
 * codes where they say exactly what is wrong: `unknown-option` / `bad-option` for options,
 * `logits-not-2d` for logits that are not `[batch, classes]`, `class-count-mismatch` for student
 * and teacher logits of different widths, `bad-labels` for labels that are not a 1-D int32 tensor
 * and `label-out-of-range` for a label outside `[0, classes)`. Match codes with
 * `isDistillationError(error, code)`.
 */
export const logitsErrorCodes = {
  'not-a-tensor': 'An input that must be a tf.Tensor (student logits, teacher logits, labels) is something else.',
  'logits-not-float': 'Student or teacher logits are not a float32 tensor.',
  'batch-size-mismatch': 'Student logits, teacher logits and labels do not all have the same batch size.',
  'empty-batch': 'The logits have no example (batch size 0), so no batch mean exists.',
  'too-few-classes': 'The logits have fewer than 2 classes: no non-target class (DKD) and no correlation over classes (DIST).',
} as const;

/** A code of `@kd/logits`' own errors. */
export type LogitsErrorCode = keyof typeof logitsErrorCodes;

/** An error of `@kd/logits` with one of {@link logitsErrorCodes}; recognised by `isDistillationError`. */
export class LogitsError extends DistillationError<LogitsErrorCode> {
  constructor(code: LogitsErrorCode, message: string, options?: DistillationErrorOptions) {
    super(code, message, options);
    this.name = 'LogitsError';
  }
}
