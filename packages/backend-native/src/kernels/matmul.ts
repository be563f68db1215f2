import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { epilogue, epilogueArgs, isFusedActivation } from './epilogue';
import { addon, call, Heap, type KernelArgs, previous, sizeOf, WASM } from './heap';

/**
 * Element offsets of each output batch's matrix in an operand of batch shape `outer` (right-aligned
 * against the output's batch shape `out`, size-1 axes broadcast), relative to the operand's start.
 */
function batchOffsets(outer: readonly number[], out: readonly number[], matrix: number): Int32Array {
  const batch = sizeOf(out);
  const offsets = new Int32Array(batch);
  if (sizeOf(outer) <= 1) return offsets; // one matrix for every batch
  const rank = out.length;
  const shift = rank - outer.length;
  // strides of the operand's batch axes (0 where broadcast), aligned to the output's axes
  const strides = new Array<number>(rank).fill(0);
  let s = matrix;
  for (let i = outer.length - 1; i >= 0; i--) {
    strides[i + shift] = outer[i] === 1 ? 0 : s;
    s *= outer[i]!;
  }
  for (let b = 0; b < batch; b++) {
    let rest = b;
    let offset = 0;
    for (let i = rank - 1; i >= 0; i--) {
      const d = out[i]!;
      offset += (rest % d) * strides[i]!;
      rest = Math.floor(rest / d);
    }
    offsets[b] = offset;
  }
  return offsets;
}

interface Product {
  m: number;
  n: number;
  k: number;
  outShape: number[];
  outer: number[];
  outerA: number[];
  outerB: number[];
}

/** The product's sizes, or null for inputs the native kernel leaves to the previous one. */
function product(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): Product | null {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return null;
  const m = transposeA ? a.shape.at(-1)! : a.shape.at(-2)!;
  const k = transposeA ? a.shape.at(-2)! : a.shape.at(-1)!;
  const kb = transposeB ? b.shape.at(-1)! : b.shape.at(-2)!;
  const n = transposeB ? b.shape.at(-2)! : b.shape.at(-1)!;
  if (k !== kb) return null; // the previous kernel raises tfjs' error
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  let outer: number[];
  try {
    outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  } catch {
    return null;
  }
  return { m, n, k, outShape: [...outer, m, n], outer, outerA, outerB };
}

/** Computes op(a) x op(b) into a new tensor of shape `p.outShape`. */
function gemm(
  heap: Heap,
  kernel: string,
  a: TensorInfo,
  b: TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  p: Product,
  epilogue: number[] = [],
): TensorInfo {
  const out = heap.allocate(p.outShape);
  try {
    const aOffsets = batchOffsets(p.outerA, p.outer, p.m * p.k);
    const bOffsets = batchOffsets(p.outerB, p.outer, p.k * p.n);
    const aBase = heap.offset(a);
    const bBase = heap.offset(b);
    for (let i = 0; i < aOffsets.length; i++) {
      aOffsets[i]! += aBase;
      bOffsets[i]! += bBase;
    }
    const cOff = heap.offset(out);
    call(kernel, () => addon().gemm(heap.buffer(), transposeA, transposeB, p.m, p.n, p.k, aOffsets, bOffsets, cOff, ...epilogue));
    return out;
  } catch (error) {
    heap.dispose(out);
    throw error;
  }
}

function batchMatMul(args: KernelArgs): TensorInfo | TensorInfo[] {
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
  const p = product(a, b, transposeA, transposeB);
  if (p == null) return previous('BatchMatMul', args);
  return gemm(new Heap(args.backend), 'BatchMatMul', a, b, transposeA, transposeB, p);
}

function fusedMatMul(args: KernelArgs): TensorInfo | TensorInfo[] {
  const { a, b, bias, preluActivationWeights } = args.inputs as {
    a: TensorInfo;
    b: TensorInfo;
    bias?: TensorInfo;
    preluActivationWeights?: TensorInfo;
  };
  const attrs = args.attrs as unknown as tf._FusedMatMulAttrs;
  const { transposeA, transposeB } = attrs;
  const p = product(a, b, transposeA, transposeB);
  if (
    p == null ||
    !isFusedActivation(attrs.activation) ||
    (bias != null && bias.dtype !== 'float32') ||
    (preluActivationWeights != null && preluActivationWeights.dtype !== 'float32')
  ) {
    return previous('_FusedMatMul', args);
  }
  const heap = new Heap(args.backend);
  const fused = epilogueArgs(heap, p.outShape, bias, preluActivationWeights, attrs);
  if (fused != null) return gemm(heap, '_FusedMatMul', a, b, transposeA, transposeB, p, fused);
  const out = gemm(heap, '_FusedMatMul', a, b, transposeA, transposeB, p);
  try {
    return epilogue(heap, '_FusedMatMul', out, bias, preluActivationWeights, attrs);
  } catch (error) {
    heap.dispose(out);
    throw error;
  }
}

/** `BatchMatMul` (what `tf.matMul` runs) and `_FusedMatMul` (dense layers) by OpenBLAS sgemm. */
export const matMulKernels: KernelConfig[] = [
  { kernelName: 'BatchMatMul', backendName: WASM, kernelFunc: batchMatMul as KernelFunc },
  { kernelName: '_FusedMatMul', backendName: WASM, kernelFunc: fusedMatMul as KernelFunc },
];
