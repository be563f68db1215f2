/**
 * `@kd/backend-gpu`: pick and register the fastest TensorFlow.js backend installed
 * (tfjs-node-gpu > tfjs-node > native OpenBLAS kernels on patched wasm > wasm patched for training > cpu) and report the device.
 * @packageDocumentation
 */
export { BackendGpuError, type BackendGpuErrorCode, backendGpuErrorCodes } from './errors';
export {
  BACKEND_ORDER,
  BACKEND_PACKAGES,
  type BackendChoice,
  type BackendName,
  BackendUnavailableError,
  type BestBackendOptions,
  type SkippedBackend,
  useBestBackend,
} from './useBestBackend';
