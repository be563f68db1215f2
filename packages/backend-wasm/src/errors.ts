/**
 * Every code `@kd/backend-wasm` throws, with what it means. The package does not depend on
 * `@kd/core`, but its errors have the same shape as core's `DistillationError` (`code`, `message`,
 * `cause`) and carry its brand, so `isDistillationError(error, code)` from `@kd/core` recognises
 * them.
 */
export const backendWasmErrorCodes = {
  'unknown-option': 'An options object has a key the function does not know (a typo, or an option of another version).',
  'bad-option': 'An option has the wrong type or a value out of range.',
  'unknown-kernel': 'A kernel name given to `kernels` / `patchWasmKernels` is not one this package patches.',
  'wasm-not-installed': "'@tensorflow/tfjs-backend-wasm' cannot be imported (not installed, or another major version).",
  'wasm-init-failed': 'The wasm backend failed to initialise (tf.setBackend("wasm") returned false).',
  'wasm-kernels-missing': "No wasm kernels are registered: '@tensorflow/tfjs-backend-wasm' was not imported before patchWasmKernels().",
  'kernel-not-registered': 'A kernel that a patched kernel runs is not registered for wasm (it was unregistered).',
  'unsupported-activation': 'A fused matmul asked for an activation the patched kernel does not know.',
  'index-out-of-range': 'A gather index is outside the gathered axis.',
} as const;

/** A code of `@kd/backend-wasm`'s errors. */
export type BackendWasmErrorCode = keyof typeof backendWasmErrorCodes;

const BRAND = Symbol.for('@kd/DistillationError');

/**
 * An error of `@kd/backend-wasm` with one of {@link backendWasmErrorCodes}. Match it with
 * `isDistillationError(error, code)` from `@kd/core`, or on `code`; never with `instanceof` (the
 * ESM and CommonJS builds are distinct classes).
 */
export class BackendWasmError extends Error {
  /** Stable, typed reason, e.g. `'unknown-kernel'`. */
  readonly code: BackendWasmErrorCode;

  constructor(code: BackendWasmErrorCode, message: string, options: { readonly cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = 'BackendWasmError';
    Object.defineProperty(this, BRAND, { value: true });
  }
}
