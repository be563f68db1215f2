import type { DataId, KernelBackend, KernelConfig, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import type { NativeAddon } from '../addon';
import { BackendNativeError } from '../errors';

/** Name of the backend the native kernels are registered for. */
export const WASM = 'wasm';

/**
 * The parts of tfjs' `BackendWasm` the native kernels use: every tensor lives in the wasm
 * module's linear memory (`wasm.HEAPU8.buffer`) at `dataIdMap.get(dataId).memoryOffset` (bytes),
 * and `makeOutput` allocates a new tensor there (which may grow the memory and detach the old
 * buffer: take the heap after every allocation).
 */
export interface WasmHeapBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: DataId): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  disposeData(dataId: DataId, force?: boolean): boolean;
}

/** The kernel arguments tfjs passes. */
export interface KernelArgs {
  inputs: NamedTensorInfoMap;
  backend: KernelBackend;
  attrs?: NamedAttrMap;
}

/** The heap and element offsets of one kernel call. */
export class Heap {
  readonly backend: WasmHeapBackend;

  constructor(readonly kernelBackend: KernelBackend) {
    this.backend = kernelBackend as unknown as WasmHeapBackend;
  }

  /** A new float32 tensor on the wasm heap (uninitialised). */
  allocate(shape: number[]): TensorInfo {
    return this.backend.makeOutput(shape, 'float32');
  }

  /** The wasm memory now (call after the last allocation of the kernel). */
  buffer(): ArrayBuffer {
    return this.backend.wasm.HEAPU8.buffer as ArrayBuffer;
  }

  /** Offset of `t`'s first element, in floats. */
  offset(t: TensorInfo): number {
    const data = this.backend.dataIdMap.get(t.dataId);
    if (data == null) throw new BackendNativeError('native-failed', '@kd/backend-native: a tensor is not on the wasm backend.');
    return data.memoryOffset / 4;
  }

  dispose(t: TensorInfo): void {
    this.backend.disposeData(t.dataId);
  }
}

/** Runs the addon call, turning its RangeError into a `native-failed` error. */
export function call(kernel: string, fn: () => void): void {
  try {
    fn();
  } catch (error) {
    throw new BackendNativeError('native-failed', `@kd/backend-native: ${kernel}: ${(error as Error).message}`, { cause: error });
  }
}

/** The addon in use, set by `useNativeKernels`. */
export const state: {
  addon: NativeAddon | null;
  previous: Map<string, KernelConfig>;
  /**
   * Forward convolutions with at most 8 output and 4 input channels go to the previous kernel
   * (XNNPACK's direct convolution beats im2col + sgemm there: 2.1 vs 2.9 ms for the student CNN's
   * 64x28x28x1 -> 8 layer). Tests turn it off to check the native path on those shapes too.
   */
  smallConvToWasm: boolean;
} = {
  addon: null,
  previous: new Map(),
  smallConvToWasm: true,
};

export function addon(): NativeAddon {
  if (state.addon == null) throw new BackendNativeError('native-failed', '@kd/backend-native: a native kernel ran without the addon.');
  return state.addon;
}

/**
 * Runs the kernel that was registered for `name` before the native one (kd's patched wasm kernel
 * or wasm's own): for the inputs the native kernel does not handle (other dtypes, NCHW, odd
 * broadcasts), and to let it raise tfjs' errors for bad shapes.
 */
export function previous(name: string, args: KernelArgs): TensorInfo | TensorInfo[] {
  const config = state.previous.get(name);
  if (config == null) {
    throw new BackendNativeError(
      'kernel-not-registered',
      `@kd/backend-native: ${name} got inputs the native kernel does not handle (${describeInputs(args.inputs)}) ` +
        "and no other wasm kernel was registered before it (call @kd/backend-wasm's useWasmTraining() first).",
    );
  }
  return config.kernelFunc({ inputs: args.inputs, backend: args.backend, attrs: args.attrs ?? {} });
}

/** Runs whatever kernel is registered on wasm for `name` now. */
export function runWasm(name: string, backend: KernelBackend, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
  const config = tf.getKernel(name, WASM);
  if (config == null)
    throw new BackendNativeError('kernel-not-registered', `@kd/backend-native: kernel '${name}' is not registered for wasm.`);
  const out = config.kernelFunc({ inputs, backend, attrs });
  return Array.isArray(out) ? out[0]! : out;
}

function describeInputs(inputs: NamedTensorInfoMap): string {
  return Object.entries(inputs)
    .filter(([, t]) => t != null)
    .map(([k, t]) => `${k} ${t!.dtype} [${t!.shape.join(', ')}]`)
    .join(', ');
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
