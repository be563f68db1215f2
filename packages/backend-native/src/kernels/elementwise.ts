import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { addon, call, Heap, type KernelArgs, previous, sizeOf, WASM } from './heap';

/**
 * `Add`, `Sub` and `Multiply` of float32 tensors when both have the same shape, or one of them
 * is a single value, or one value per channel of the other (`[..., C]` against `[C]`, a bias
 * add): the broadcasts of a training step, which wasm's kernels compute through a general index
 * loop. One float32 operation per element, so the results are the same bits as wasm's. Other
 * broadcasts and dtypes go to the kernel registered before.
 */
const OPS = { Add: 0, Sub: 1, Multiply: 2 } as const;

const SAME = 0;
const B_SCALAR = 1;
const B_COLUMN = 2;
const A_SCALAR = 3;
const A_COLUMN = 4;

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** How `small` broadcasts against `big`: one value, one per last-axis entry, or null. */
function against(small: readonly number[], big: readonly number[]): 'scalar' | 'column' | null {
  if (small.length > big.length) return null;
  if (sizeOf(small) === 1) return 'scalar';
  const c = big.at(-1)!;
  if (sizeOf(small) === c && small.at(-1) === c) return 'column';
  return null;
}

function binary(name: keyof typeof OPS) {
  return (args: KernelArgs): TensorInfo | TensorInfo[] => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return previous(name, args);
    let mode: number;
    let outShape: number[];
    if (sameShape(a.shape, b.shape)) {
      mode = SAME;
      outShape = a.shape;
    } else {
      const bOnA = against(b.shape, a.shape);
      const aOnB = bOnA == null ? against(a.shape, b.shape) : null;
      if (bOnA != null && sizeOf(a.shape) > 0) {
        mode = bOnA === 'scalar' ? B_SCALAR : B_COLUMN;
        outShape = a.shape;
      } else if (aOnB != null && sizeOf(b.shape) > 0) {
        mode = aOnB === 'scalar' ? A_SCALAR : A_COLUMN;
        outShape = b.shape;
      } else return previous(name, args);
    }
    const n = sizeOf(outShape);
    if (n === 0) return previous(name, args);
    const columns = outShape.length > 0 ? outShape.at(-1)! : 1;
    const heap = new Heap(args.backend);
    const out = heap.allocate(outShape);
    call(name, () =>
      addon().binary(heap.buffer(), OPS[name], mode, heap.offset(a), heap.offset(b), heap.offset(out), n / Math.max(1, columns), columns),
    );
    return out;
  };
}

export const elementwiseKernels: KernelConfig[] = (Object.keys(OPS) as (keyof typeof OPS)[]).map((name) => ({
  kernelName: name,
  backendName: WASM,
  kernelFunc: binary(name) as unknown as KernelFunc,
}));
