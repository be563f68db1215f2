import { DistillationError } from '@kd/core';

/** Every code {@link writeReport} throws, with what it means. */
export const reportErrorCodes = {
  'bad-run':
    'A run folder cannot be reported: it is not a folder, holds none of logs.jsonl, predictions.json and summary.json, or one of them is malformed (the message names the file, and the line where there is one).',
  'io-error': 'Reading a run file or writing the report failed; the message names the path and the operation.',
} as const;

/** A code of the report's errors. */
export type ReportErrorCode = keyof typeof reportErrorCodes;

/** An error of {@link writeReport}; match on `code` with `isDistillationError(e, 'bad-run')`. */
export class ReportError extends DistillationError<ReportErrorCode> {
  constructor(code: ReportErrorCode, message: string, options: { readonly cause?: unknown } = {}) {
    super(code, message, options);
    this.name = 'ReportError';
  }
}
