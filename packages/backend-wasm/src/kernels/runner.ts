import type { DataId, KernelBackend, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { BackendWasmError } from '../errors';

/** Name of the backend every kernel in this package is registered for. */
export const WASM = 'wasm';

/** Kernel functions as they were before `useWasmTraining` replaced them, by kernel name. */
export const originalKernels = new Map<string, tf.KernelConfig>();

type Inputs = Record<string, TensorInfo | undefined> | TensorInfo[];

/**
 * Runs wasm kernels directly on the backend (below the engine, so nothing is taped or tracked)
 * and frees every intermediate it produced when `dispose()` is called. This is how tfjs backends
 * compose kernels; using `tf.*` ops inside a kernel would create engine tensors instead.
 */
export class KernelRunner {
  private readonly temps: TensorInfo[] = [];

  constructor(readonly backend: KernelBackend) {}

  /** Runs the kernel registered now for `name` on wasm (a patched one where there is one). */
  run(name: string, inputs: Inputs, attrs: object = {}): TensorInfo {
    const config = tf.getKernel(name, WASM);
    if (config == null)
      throw new BackendWasmError('kernel-not-registered', `@kd/backend-wasm: kernel '${name}' is not registered for wasm.`);
    return this.call(config, inputs, attrs);
  }

  /** Runs the stock wasm kernel for `name`, as registered before patching. */
  runOriginal(name: string, inputs: Inputs, attrs: object = {}): TensorInfo {
    const config = originalKernels.get(name) ?? tf.getKernel(name, WASM);
    if (config == null)
      throw new BackendWasmError('kernel-not-registered', `@kd/backend-wasm: kernel '${name}' is not registered for wasm.`);
    return this.call(config, inputs, attrs);
  }

  private call(config: tf.KernelConfig, inputs: Inputs, attrs: object): TensorInfo {
    const out = config.kernelFunc({
      inputs: inputs as tf.NamedTensorInfoMap,
      backend: this.backend,
      attrs: attrs as NamedAttrMap,
    });
    const info = Array.isArray(out) ? out[0]! : out;
    this.temps.push(info);
    return info;
  }

  /** Frees `t` (made by the caller on this backend) with the other intermediates. */
  adopt(t: TensorInfo): TensorInfo {
    this.temps.push(t);
    return t;
  }

  /** Marks `t` as the result: it survives `dispose()`. */
  keep(t: TensorInfo): TensorInfo {
    const i = this.temps.lastIndexOf(t);
    if (i < 0) {
      // Not made here (an input passed through): the engine needs a tensor of its own.
      return this.keep(this.run('Identity', { x: t }));
    }
    this.temps.splice(i, 1);
    return t;
  }

  /**
   * A new, uninitialised tensor on the wasm heap, freed with the other intermediates unless kept.
   * Allocate every output before taking {@link KernelRunner.view}s: an allocation can grow the
   * heap, which detaches the views taken before it.
   */
  allocate(shape: number[], dtype: tf.DataType = 'float32'): TensorInfo {
    return this.adopt((this.backend as unknown as HeapBackend).makeOutput(shape, dtype));
  }

  /** The typed-array view of a wasm tensor's memory (valid until the next allocation). */
  view(t: TensorInfo): Float32Array | Int32Array | Uint8Array {
    return (this.backend as unknown as HeapBackend).typedArrayFromHeap(t) as Float32Array | Int32Array | Uint8Array;
  }

  /** Frees the intermediate `t` now (it must have been made here and not kept). */
  free(t: TensorInfo): void {
    const i = this.temps.lastIndexOf(t);
    if (i < 0) return;
    this.temps.splice(i, 1);
    this.backend.disposeData(t.dataId as DataId);
  }

  /** Frees every intermediate that was not kept. */
  dispose(): void {
    for (const t of this.temps) this.backend.disposeData(t.dataId as DataId);
    this.temps.length = 0;
  }

  // ---- small helpers over kernels -------------------------------------------------------------

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  /** Pads (positive amounts) and crops (negative amounts) every axis. */
  padOrCrop(x: TensorInfo, amounts: Array<[number, number]>, constantValue = 0): TensorInfo {
    let t = x;
    if (amounts.some(([a, b]) => a < 0 || b < 0)) {
      const begin = amounts.map(([a]) => Math.max(0, -a));
      const size = t.shape.map((d, i) => d - begin[i]! - Math.max(0, -amounts[i]![1]));
      t = this.run('Slice', { x: t }, { begin, size });
    }
    if (amounts.some(([a, b]) => a > 0 || b > 0)) {
      const paddings = amounts.map(([a, b]) => [Math.max(0, a), Math.max(0, b)]);
      t = this.run('PadV2', { x: t }, { paddings, constantValue });
    }
    return t;
  }

  /**
   * Inserts `stride - 1` zeros between neighbours along `axis` and keeps `stride - 1` trailing
   * zeros as well: length L becomes L * stride.
   */
  spread(x: TensorInfo, axis: number, stride: number): TensorInfo {
    if (stride === 1) return x;
    const shape = x.shape.slice();
    const expanded = [...shape.slice(0, axis + 1), 1, ...shape.slice(axis + 1)];
    const paddings = expanded.map((_, i) => [0, i === axis + 1 ? stride - 1 : 0]);
    const padded = this.run('PadV2', { x: this.reshape(x, expanded) }, { paddings, constantValue: 0 });
    shape[axis] = shape[axis]! * stride;
    return this.reshape(padded, shape);
  }
}

/** The two methods of tfjs' `BackendWasm` that give kernels direct access to the heap. */
interface HeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): ArrayLike<number>;
}

/** Runs `fn` with a fresh runner, frees its intermediates, returns the kept result. */
export function withRunner(backend: KernelBackend, fn: (k: KernelRunner) => TensorInfo): TensorInfo {
  const k = new KernelRunner(backend);
  try {
    return k.keep(fn(k));
  } finally {
    k.dispose();
  }
}

/** Permutation that moves the channel axis of an NCHW-like tensor last, and its inverse. */
export function channelsLastPerm(rank: number): { toLast: number[]; toFirst: number[] } {
  const toLast = [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2), 1];
  const toFirst = [0, rank - 1, ...Array.from({ length: rank - 2 }, (_, i) => i + 1)];
  return { toLast, toFirst };
}

/** Arguments a kernel function receives, with the backend typed. */
export interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: KernelBackend;
  attrs?: NamedAttrMap;
}
