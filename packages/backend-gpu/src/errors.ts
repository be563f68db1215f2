import { distance } from 'fastest-levenshtein';
/**
 * Every code `@kd/backend-gpu` throws, with what it means. The package does not depend on
 * `@kd/core`, but its errors have the same shape as core's `DistillationError` (`code`, `message`,
 * `cause`) and carry its brand, so `isDistillationError(error, code)` from `@kd/core` recognises
 * them. Errors of `@kd/backend-wasm` (loading the wasm candidate) arrive as the `cause` of a
 * `backend-unavailable` error, or in `skipped`.
 */
export const backendGpuErrorCodes = {
  'unknown-option': 'An options object has a key the function does not know (a typo, or an option of another version).',
  'bad-option': 'An option or the backend preference has the wrong type or a value out of range.',
  'unknown-backend': "A backend name is not one of BACKEND_ORDER ('tfjs-node-gpu', 'tfjs-node', 'native', 'wasm', 'cpu').",
  'backend-unavailable':
    'A backend asked for by name cannot be used (its package is missing or fails to load), or no candidate of the list could be loaded.',
  'backend-init-failed':
    "A backend's package loaded but the backend could not be activated (tf.setBackend returned false, or it needs Node.js); the cause of a backend-unavailable error or a skip reason.",
} as const;

/** A code of `@kd/backend-gpu`'s errors. */
export type BackendGpuErrorCode = keyof typeof backendGpuErrorCodes;

const BRAND = Symbol.for('@kd/DistillationError');

/**
 * An error of `@kd/backend-gpu` with one of {@link backendGpuErrorCodes}. Match it with
 * `isDistillationError(error, code)` from `@kd/core`, or on `code`; never with `instanceof` (the
 * ESM and CommonJS builds are distinct classes).
 */
export class BackendGpuError extends Error {
  /** Stable, typed reason, e.g. `'unknown-backend'`. */
  readonly code: BackendGpuErrorCode;

  constructor(code: BackendGpuErrorCode, message: string, options: { readonly cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = 'BackendGpuError';
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/** `; did you mean "x"?` when `word` is a plausible typo of one of `candidates` (as `@kd/core`'s `suggest`). */
export function didYouMean(word: string, candidates: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(best.length / 3)) ? `; did you mean "${best}"?` : '';
}

/** A value for a message, as `@kd/core`'s parseOptions shows it. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value !== null && typeof value === 'object') return 'an object';
  return String(value);
}
