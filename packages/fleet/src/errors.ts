import { DistillationError, type DistillationErrorOptions } from '@kd/core';

/**
 * Every code `@kd/fleet` throws itself, with what it means. Bad options are `@kd/core`'s
 * `unknown-option` / `bad-option`; store errors are `@kd/teacher-store`'s. Match codes with
 * `isDistillationError(error, code)`.
 */
export const fleetErrorCodes = {
  'fleet-bad-redis-url': 'The Redis URL is not redis://[user:password@]host[:port][/db] or rediss://... (TLS).',
  'fleet-run-mismatch':
    'A coordinator (or a worker) was started on a queue whose run in Redis has another teacher, source, output directory or layout; use another queue name or remove the old run.',
  'fleet-backend-mismatch':
    'A worker runs another tfjs backend than the run records; bit-for-bit equal shards need one backend across the fleet.',
  'fleet-bad-job': 'A job payload is not { run, shard, start, end } of the run (jobs carry ids and ranges only).',
  'fleet-shard-failed': 'A shard job failed on every attempt (the message carries the last error of the worker).',
  'fleet-verify-failed':
    'Verification of a finished run failed: a shard is missing or has another digest than its completion, an id is missing or repeated, or a shape or fingerprint differs.',
  'fleet-bad-source-module': 'The source module does not export a DataSource or { x, y } tensors (default export, or `source`).',
  'fleet-missing-id':
    "fleetTeacher's teacher was asked for an example whose shard it has not loaded: read batches through the source fleetTeacher returns.",
  'fleet-timeout': 'Waiting for the fleet (a shard, or the whole run) took longer than the timeout given.',
} as const;

/** A code of `@kd/fleet`'s own errors. */
export type FleetErrorCode = keyof typeof fleetErrorCodes;

/** An error of `@kd/fleet` with one of {@link fleetErrorCodes}. */
export class FleetError extends DistillationError<FleetErrorCode> {
  constructor(code: FleetErrorCode, message: string, options?: DistillationErrorOptions) {
    super(code, message, options);
    this.name = 'FleetError';
  }
}
