import { DistillationError, type DistillationErrorOptions } from '@kd/core';

/**
 * Every code the browser latency measurement (`measureBrowserLatency`) throws itself, with
 * what it means. Besides these it throws `@kd/core`'s `bad-option` and `unknown-option` (its
 * options), `model-not-found` (a model folder without `model.json`), `bad-model` (a `model.json`
 * that is not JSON) and `truncated-weights` (a weights file the manifest names is missing) with
 * core's meaning. Match on `code` with `isDistillationError(error, code)`.
 */
export const latencyErrorCodes = {
  'browser-unavailable':
    'Measuring browser latency needs the optional peer playwright-core and a Chromium executable (executablePath, CHROMIUM_PATH or /usr/bin/chromium); one of them is missing or the browser does not start.',
  'page-failed': 'The latency page could not load tfjs, or a model failed to load or predict in the browser (the message names the form).',
} as const;

/** A code of the browser latency measurement's own errors. */
export type LatencyErrorCode = keyof typeof latencyErrorCodes;

/** An error the browser latency measurement throws with one of its own codes (see {@link latencyErrorCodes}). */
export class LatencyError extends DistillationError<LatencyErrorCode> {
  constructor(code: LatencyErrorCode, message: string, options?: DistillationErrorOptions) {
    super(code, message, options);
    this.name = 'LatencyError';
  }
}
