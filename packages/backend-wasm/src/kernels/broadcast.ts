import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { type KernelArgs, type KernelRunner, originalKernels, WASM, withRunner } from './runner';

/** wasm's XNNPACK binary operators return garbage above this output rank. */
const MAX_RANK = 6;

/** Binary kernels that are wrong on wasm 4.22 for outputs of rank > 6 (even without broadcasting). */
export const RANK_LIMITED_BINARY_KERNELS = ['Add', 'Sub', 'Multiply', 'RealDiv', 'SquaredDifference'] as const;

/**
 * Merges neighbouring axes that broadcast alike in both operands and drops axes of size 1, which
 * keeps the product of the shapes but lowers the rank (7-D same-shape operands become 1-D).
 */
export function coalesce(aShape: number[], bShape: number[]): { a: number[]; b: number[]; out: number[] } {
  const out = tf.broadcast_util.assertAndGetBroadcastShape(aShape, bShape);
  const r = out.length;
  const pa = [...new Array<number>(r - aShape.length).fill(1), ...aShape];
  const pb = [...new Array<number>(r - bShape.length).fill(1), ...bShape];
  const ra: number[] = [];
  const rb: number[] = [];
  const ro: number[] = [];
  let kind = '';
  for (let i = 0; i < r; i++) {
    if (out[i] === 1) continue;
    const k = `${pa[i] === 1 ? 0 : 1}${pb[i] === 1 ? 0 : 1}`;
    if (k === kind) {
      ra[ra.length - 1] = ra.at(-1)! * pa[i]!;
      rb[rb.length - 1] = rb.at(-1)! * pb[i]!;
      ro[ro.length - 1] = ro.at(-1)! * out[i]!;
    } else {
      ra.push(pa[i]!);
      rb.push(pb[i]!);
      ro.push(out[i]!);
      kind = k;
    }
  }
  return { a: ra, b: rb, out: ro };
}

function binary(k: KernelRunner, name: string, a: TensorInfo, b: TensorInfo, outShape: number[]): TensorInfo {
  if (outShape.length <= MAX_RANK) {
    return k.runOriginal(name, { a, b });
  }
  // Still too many alternating axes: split the first axis and recurse.
  const parts: TensorInfo[] = [];
  for (let i = 0; i < outShape[0]!; i++) {
    const take = (t: TensorInfo) => {
      const begin = t.shape.map((_, j) => (j === 0 && t.shape[0] !== 1 ? i : 0));
      const sizes = t.shape.map((d, j) => (j === 0 ? 1 : d));
      return k.reshape(k.run('Slice', { x: t }, { begin, size: sizes }), t.shape.slice(1));
    };
    parts.push(k.reshape(binary(k, name, take(a), take(b), outShape.slice(1)), [1, ...outShape.slice(1)]));
  }
  return k.run('Concat', parts, { axis: 0 });
}

function rankSafe(name: string): KernelFunc {
  return ((args: KernelArgs) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const outShape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape, b.shape);
    if (outShape.length <= MAX_RANK) {
      return originalKernels.get(name)!.kernelFunc(args as Parameters<KernelFunc>[0]);
    }
    return withRunner(args.backend, (k) => {
      const c = coalesce(a.shape, b.shape);
      const out = binary(k, name, k.reshape(a, c.a), k.reshape(b, c.b), c.out);
      return k.reshape(out, outShape);
    });
  }) as KernelFunc;
}

/** Binary kernels made correct for any rank by lowering the rank before calling wasm's. */
export const broadcastKernels: KernelConfig[] = RANK_LIMITED_BINARY_KERNELS.map((name) => ({
  kernelName: name,
  backendName: WASM,
  kernelFunc: rankSafe(name),
}));
