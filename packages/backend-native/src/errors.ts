/**
 * Every code `@kd/backend-native` throws, with what it means. The package does not depend on
 * `@kd/core`, but its errors have the same shape as core's `DistillationError` (`code`, `message`,
 * `cause`) and carry its brand, so `isDistillationError(error, code)` from `@kd/core` recognises
 * them. A native addon that cannot be used is not an error by default: `useNativeKernels` then
 * leaves the wasm kernels in place and says why in `NativeReport.reason` (`native-unavailable` is
 * thrown only with `required: true`).
 */
export const backendNativeErrorCodes = {
  'unknown-option': 'An options object has a key the function does not know (a typo, or an option of another version).',
  'bad-option': 'An option has the wrong type or a value out of range.',
  'unknown-kernel': 'A kernel name given to `kernels` is not one this package implements natively.',
  'wasm-kernels-missing':
    "No wasm kernels are registered: '@tensorflow/tfjs-backend-wasm' was not imported before useNativeKernels({ wasmTraining: false }).",
  'native-unavailable':
    'The native addon or OpenBLAS cannot be used here (no build for this platform, libopenblas missing, or the probe crashed) and `required: true` was given.',
  'kernel-not-registered':
    'A native kernel got inputs it does not handle (e.g. NCHW, int32) and no wasm kernel was registered before it to hand them to.',
  'native-failed':
    'The native addon refused a call (an operand outside the wasm heap or a size it cannot handle): a bug, please report it.',
} as const;

/** A code of `@kd/backend-native`'s errors. */
export type BackendNativeErrorCode = keyof typeof backendNativeErrorCodes;

const BRAND = Symbol.for('@kd/DistillationError');

/**
 * An error of `@kd/backend-native` with one of {@link backendNativeErrorCodes}. Match it with
 * `isDistillationError(error, code)` from `@kd/core`, or on `code`; never with `instanceof` (the
 * ESM and CommonJS builds are distinct classes).
 */
export class BackendNativeError extends Error {
  /** Stable, typed reason, e.g. `'native-unavailable'`. */
  readonly code: BackendNativeErrorCode;

  constructor(code: BackendNativeErrorCode, message: string, options: { readonly cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = 'BackendNativeError';
    Object.defineProperty(this, BRAND, { value: true });
  }
}
