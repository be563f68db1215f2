import { DistillationError, type DistillationErrorOptions } from '@kd/core';

/**
 * Every code `@kd/teacher-store` throws itself, with what it means. Bad options are `@kd/core`'s
 * `unknown-option` / `bad-option`, unreadable files core's `io-error`; a file fetched over HTTP
 * that is not there (404) is `store-not-found` / `store-bad-shard`, like a missing file on disk.
 * Match codes with `isDistillationError(error, code)`.
 */
export const teacherStoreErrorCodes = {
  'store-not-found': 'The store directory, or its manifest.json, does not exist (precomputeTeacher writes the manifest last).',
  'store-bad-manifest':
    'manifest.json is not valid JSON, not a kd teacher store manifest, or of a store format version this kd does not read.',
  'store-bad-shard':
    'A shard the manifest lists is missing, truncated, not Arrow IPC, or holds other columns, row counts, ids or bytes than the manifest says.',
  'store-missing-id': 'A batch asks the stored teacher for an example id the store does not hold.',
  'store-fingerprint-mismatch': 'The store was written for another teacher or another source than the one given (names both fingerprints).',
  'store-no-fingerprint':
    'precomputeTeacher got a teacher that is not a LayersModel (a function, an ensemble, a GraphModel) and no fingerprint option.',
  'store-mixed-ids': 'A source yields both number and string ids; a store keeps one kind.',
  'store-unknown-tap': 'A plugin taps a teacher layer the store did not record.',
  'store-bad-value':
    'A teacher output cannot be stored in the chosen dtype (float16: non-finite or beyond +-65504), or has another shape than the store records.',
  'store-source-mismatch': 'The store was computed on another source than the one given: other size, example shape, ids or description.',
  'store-fetch-failed':
    'fetchStoredTeacher could not fetch a file of the store: an HTTP status other than 404, a network error or a body cut short (names the URL and the status).',
} as const;

/** A code of `@kd/teacher-store`'s own errors. */
export type TeacherStoreErrorCode = keyof typeof teacherStoreErrorCodes;

/** An error of `@kd/teacher-store` with one of {@link teacherStoreErrorCodes}. */
export class TeacherStoreError extends DistillationError<TeacherStoreErrorCode> {
  constructor(code: TeacherStoreErrorCode, message: string, options?: DistillationErrorOptions) {
    super(code, message, options);
    this.name = 'TeacherStoreError';
  }
}
