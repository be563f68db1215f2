import type { TensorInfo } from '@tensorflow/tfjs-core';
import { addon, call, type Heap, runWasm, sizeOf } from './heap';

/** tfjs' fused activations, as the addon numbers them (`undefined` = linear). */
const ACTIVATIONS: Readonly<Record<string, number>> = { linear: 0, relu: 1, relu6: 2, elu: 3, sigmoid: 4, leakyrelu: 5, prelu: 6 };

/** True for the activations of tfjs' fused ops (`_FusedMatMul`, `FusedConv2D`). */
export function isFusedActivation(activation: unknown): boolean {
  return activation === undefined || (typeof activation === 'string' && Object.hasOwn(ACTIVATIONS, activation));
}

const NONE = 0;
const SCALAR = 1;
const COLUMN = 2;
const FULL = 3;
const OTHER = -1;

function withoutLeadingOnes(shape: readonly number[]): number[] {
  let i = 0;
  while (i < shape.length - 1 && shape[i] === 1) i++;
  return shape.slice(i);
}

/**
 * How `t` broadcasts against the output (`[rows, n]` in memory): one value, one per column, one
 * per element, or another way (handed to wasm's kernels). A `t` of higher rank than the output
 * would raise the output's rank, so it is "another way" too.
 */
function broadcastMode(t: TensorInfo | undefined, outShape: readonly number[]): number {
  if (t == null) return NONE;
  if (t.shape.length > outShape.length) return OTHER;
  const size = sizeOf(t.shape);
  if (size === 1) return SCALAR;
  const n = outShape.at(-1)!;
  if (size === n && t.shape.at(-1) === n) return COLUMN;
  const a = withoutLeadingOnes(t.shape);
  const b = withoutLeadingOnes(outShape);
  if (a.length === b.length && a.every((d, i) => d === b[i])) return FULL;
  return OTHER;
}

/** Fused-op attributes of the epilogue. */
export interface EpilogueAttrs {
  activation?: string;
  leakyreluAlpha?: number;
}

/**
 * The addon's six epilogue arguments (biasOffset, biasMode, activation, alpha, preluOffset,
 * preluMode) for `activation(out + bias)` on an output of shape `outShape`, to run block by block
 * inside the product; `[]` when there is nothing to do; null when a broadcast needs wasm's
 * kernels (then compute without, and call {@link epilogue}).
 */
export function epilogueArgs(
  heap: Heap,
  outShape: readonly number[],
  bias: TensorInfo | undefined,
  prelu: TensorInfo | undefined,
  attrs: EpilogueAttrs,
): number[] | null {
  const act = ACTIVATIONS[attrs.activation ?? 'linear']!;
  const biasMode = broadcastMode(bias, outShape);
  const preluMode = act === ACTIVATIONS.prelu ? broadcastMode(prelu, outShape) : NONE;
  if (biasMode === OTHER || preluMode === OTHER) return null;
  if (biasMode === NONE && act === 0) return [];
  const biasOff = bias != null && biasMode !== NONE ? heap.offset(bias) : -1;
  const preluOff = prelu != null && preluMode !== NONE ? heap.offset(prelu) : -1;
  return [biasOff, biasMode, act, attrs.leakyreluAlpha ?? 0.2, preluOff, preluMode];
}

/**
 * `activation(out + bias)` in place on `out` (a fresh float32 output of the kernel), as tfjs'
 * fused ops define it, for the broadcasts {@link epilogueArgs} leaves out: the sum goes through
 * wasm's `Add` and prelu through `Relu`, `Sub`, `Multiply`, `Add`; returns the result (a new
 * tensor; `out` is freed).
 */
export function epilogue(
  heap: Heap,
  kernel: string,
  out: TensorInfo,
  bias: TensorInfo | undefined,
  prelu: TensorInfo | undefined,
  attrs: EpilogueAttrs,
): TensorInfo {
  const act = ACTIVATIONS[attrs.activation ?? 'linear']!;
  let y = out;
  let biasMode = broadcastMode(bias, y.shape);
  if (biasMode === OTHER) {
    const sum = runWasm('Add', heap.kernelBackend, { a: y, b: bias! });
    heap.dispose(y);
    y = sum;
    biasMode = NONE;
  }
  const preluMode = act === ACTIVATIONS.prelu ? broadcastMode(prelu, y.shape) : NONE;
  if (preluMode === OTHER) {
    if (biasMode !== NONE) native(heap, kernel, y, bias, biasMode, 0, 0, undefined, NONE);
    // prelu(y) = relu(y) + alpha * (y - relu(y)), by kernels that broadcast (wasm's Prelu kernel
    // does not broadcast an alpha of another shape than [N]).
    const b = heap.kernelBackend;
    const r = runWasm('Relu', b, { x: y });
    const negative = runWasm('Sub', b, { a: y, b: r });
    heap.dispose(y);
    const scaled = runWasm('Multiply', b, { a: negative, b: prelu! });
    heap.dispose(negative);
    const z = runWasm('Add', b, { a: r, b: scaled });
    heap.dispose(r);
    heap.dispose(scaled);
    return z;
  }
  if (biasMode === NONE && act === 0) return y;
  native(heap, kernel, y, bias, biasMode, act, attrs.leakyreluAlpha ?? 0.2, prelu, preluMode);
  return y;
}

function native(
  heap: Heap,
  kernel: string,
  y: TensorInfo,
  bias: TensorInfo | undefined,
  biasMode: number,
  act: number,
  alpha: number,
  prelu: TensorInfo | undefined,
  preluMode: number,
): void {
  const n = y.shape.at(-1) ?? 1;
  const rows = n === 0 ? 0 : sizeOf(y.shape) / n;
  const yOff = heap.offset(y);
  const biasOff = bias != null && biasMode !== NONE ? heap.offset(bias) : -1;
  const preluOff = prelu != null && preluMode !== NONE ? heap.offset(prelu) : -1;
  call(kernel, () => addon().epilogue(heap.buffer(), yOff, rows, n, biasOff, biasMode, act, alpha, preluOff, preluMode));
}
