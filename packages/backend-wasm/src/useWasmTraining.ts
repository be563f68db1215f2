import * as tf from '@tensorflow/tfjs-core';
import { BackendWasmError } from './errors';
import { badOption, checkKeys } from './options';
import { checkKernelNames, type PatchedKernel, patchWasmKernels } from './patch';

/** Options of {@link useWasmTraining}. */
export interface WasmTrainingOptions {
  /** Make `wasm` the active backend (default `true`). */
  setBackend?: boolean;
  /**
   * Where the `.wasm` binaries are served from (browser bundles; passed to `setWasmPaths`).
   * Not needed in Node.
   */
  wasmPaths?:
    | string
    | Partial<Record<'tfjs-backend-wasm.wasm' | 'tfjs-backend-wasm-simd.wasm' | 'tfjs-backend-wasm-threaded-simd.wasm', string>>;
  /**
   * Worker threads for the browser's threaded build (passed to `setThreadsCount` before the
   * backend starts). Ignored once the backend is running. Under Node the stock backend runs
   * single-threaded: this package does not yet enable threads there.
   */
  threads?: number;
  /** Patch only these kernels (default: all); each must be one of `PATCHED_KERNEL_NAMES`. */
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

const OPTION_KEYS = ['setBackend', 'wasmPaths', 'threads', 'kernels'] as const;
const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'] as const;

/** Throws `unknown-option`, `bad-option` or `unknown-kernel` for bad {@link WasmTrainingOptions}. */
function checkOptions(input: unknown): WasmTrainingOptions {
  const where = 'useWasmTraining';
  const options = checkKeys(input, OPTION_KEYS, where) as WasmTrainingOptions;
  if (options.setBackend !== undefined && typeof options.setBackend !== 'boolean') {
    badOption(where, 'setBackend', 'must be a boolean', options.setBackend);
  }
  const paths = options.wasmPaths;
  if (paths != null && typeof paths !== 'string') {
    const files = checkKeys(paths, WASM_FILES, where, 'wasmPaths');
    for (const [file, path] of Object.entries(files)) {
      if (typeof path !== 'string') badOption(where, `wasmPaths.${file}`, 'must be a string (a URL)', path);
    }
  }
  if (options.threads != null && !(Number.isInteger(options.threads) && options.threads > 0)) {
    badOption(where, 'threads', 'must be a positive integer', options.threads);
  }
  if (options.kernels !== undefined) checkKernelNames(options.kernels, where, 'option "kernels"');
  return options;
}

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
export async function useWasmTraining(input: WasmTrainingOptions = {}): Promise<WasmTrainingReport> {
  const options = checkOptions(input);
  let wasm: WasmModule;
  try {
    wasm = await import('@tensorflow/tfjs-backend-wasm');
  } catch (error) {
    throw new BackendWasmError(
      'wasm-not-installed',
      `@kd/backend-wasm: '@tensorflow/tfjs-backend-wasm' is not installed (pnpm add @tensorflow/tfjs-backend-wasm@^4.22.0): ${String(error)}`,
      { cause: error },
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
    if (!ok)
      throw new BackendWasmError(
        'wasm-init-failed',
        '@kd/backend-wasm: the wasm backend failed to initialise (tf.setBackend("wasm") returned false).',
      );
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
