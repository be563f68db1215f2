import * as tf from '@tensorflow/tfjs-core';
import { type PatchedKernel, patchWasmKernels } from './patch';

/** Options of {@link useWasmTraining}. */
export interface WasmTrainingOptions {
  /** Make `wasm` the active backend (default `true`). */
  setBackend?: boolean;
  /**
   * Where the `.wasm` binaries are served from (browser bundles; passed to `setWasmPaths`).
   * Not needed in Node.
   */
  wasmPaths?: string | Partial<Record<'tfjs-backend-wasm.wasm' | 'tfjs-backend-wasm-simd.wasm' | 'tfjs-backend-wasm-threaded-simd.wasm', string>>;
  /**
   * Worker threads for the browser's threaded build (passed to `setThreadsCount` before the
   * backend starts). Ignored once the backend is running. Under Node the stock backend runs
   * single-threaded: this package does not yet enable threads there.
   */
  threads?: number;
  /** Patch only these kernels (default: all). */
  kernels?: readonly string[];
}

/** What {@link useWasmTraining} did. */
export interface WasmTrainingReport {
  /** The active backend afterwards (`wasm` unless `setBackend: false`). */
  backend: string;
  /** Whether the SIMD build is in use. */
  simd: boolean;
  /** Threads the wasm module runs with (1 under Node). */
  threads: number;
  /** Kernels added or replaced by this call (empty when already patched). */
  kernels: PatchedKernel[];
}

type WasmModule = typeof import('@tensorflow/tfjs-backend-wasm');

/**
 * Makes the TensorFlow.js `wasm` backend able to train: loads `@tensorflow/tfjs-backend-wasm`
 * (an optional peer, imported dynamically so this module has no side effects), registers the
 * gradient kernels wasm 4.22 lacks, replaces the ones that compute wrong results or fall off
 * XNNPACK, and (by default) switches to `wasm`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import '@tensorflow/tfjs-layers'; // registers the gradients
 * import { useWasmTraining } from '@kd/backend-wasm';
 *
 * const report = await useWasmTraining();
 * console.log(report.backend, report.kernels.map((k) => k.kernel));
 * ```
 */
export async function useWasmTraining(options: WasmTrainingOptions = {}): Promise<WasmTrainingReport> {
  let wasm: WasmModule;
  try {
    wasm = await import('@tensorflow/tfjs-backend-wasm');
  } catch (error) {
    throw new Error(
      `@kd/backend-wasm: '@tensorflow/tfjs-backend-wasm' is not installed (pnpm add @tensorflow/tfjs-backend-wasm@^4.22.0): ${String(error)}`,
    );
  }
  if (options.wasmPaths != null) wasm.setWasmPaths(options.wasmPaths);
  if (options.threads != null && options.threads > 0) {
    try {
      wasm.setThreadsCount(options.threads);
    } catch {
      // The backend has already started: keep its thread count.
    }
  }
  const kernels = patchWasmKernels(options.kernels);
  if (options.setBackend !== false) {
    const ok = await tf.setBackend('wasm');
    if (!ok) throw new Error('@kd/backend-wasm: the wasm backend failed to initialise.');
    await tf.ready();
  }
  const running = tf.getBackend() === 'wasm';
  return {
    backend: tf.getBackend(),
    simd: running ? Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) : false,
    threads: running ? wasm.getThreadsCount() : 1,
    kernels,
  };
}
