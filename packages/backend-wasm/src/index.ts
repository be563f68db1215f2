/**
 * `@kd/backend-wasm`: train on TensorFlow.js' `wasm` backend. Registers the gradient kernels
 * `@tensorflow/tfjs-backend-wasm` 4.22 lacks and replaces the ones that return wrong results or
 * fall off XNNPACK. Works in Node and in browser bundles (no Node-only import).
 * @packageDocumentation
 */
export { BackendWasmError, type BackendWasmErrorCode, backendWasmErrorCodes } from './errors';
export { coalesce, RANK_LIMITED_BINARY_KERNELS } from './kernels/broadcast';
export { describeValue, didYouMean, type OptionErrorFactory, optionChecks } from './options';
export {
  isWasmPatched,
  PATCHED_KERNEL_NAMES,
  type PatchedKernel,
  patchWasmKernels,
  unpatchWasmKernels,
} from './patch';
export { useWasmTraining, type WasmTrainingOptions, type WasmTrainingReport } from './useWasmTraining';
