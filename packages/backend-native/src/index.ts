/**
 * `@kd/backend-native`: OpenBLAS kernels for TensorFlow.js' `wasm` backend in Node. A Node-API
 * addon computes `BatchMatMul`, `_FusedMatMul`, `Conv2D`, `FusedConv2D`, `Conv2DBackpropInput`
 * and `Conv2DBackpropFilter` with sgemm (im2col for convolutions), in place on the wasm heap,
 * registered over `@kd/backend-wasm`'s patched kernels. Node only (linux-x64 prebuilt; elsewhere
 * built from source at install).
 * @packageDocumentation
 */
export { type BlasInfo, coretypeCandidates, isFallbackCore, nativeDirectory, resolveAddon } from './addon';
export { BackendNativeError, type BackendNativeErrorCode, backendNativeErrorCodes } from './errors';
export {
  NATIVE_KERNEL_NAMES,
  type NativeKernel,
  type NativeKernelOptions,
  type NativeReport,
  nativeStatus,
  probeNative,
  unuseNativeKernels,
  useNativeKernels,
  useNativeKernelsSync,
} from './useNativeKernels';
