import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { type KernelArgs, originalKernels, WASM, withRunner } from './runner';

/**
 * Slice as copies of the slice's own elements on the heap. The stock kernel first copies the
 * whole input out of the heap (`readSync`) for every slice, so slicing one example or one batch
 * of 100 out of 10,000 Fashion-MNIST images copies all 31 MB each time (an evaluation of the
 * test set in batches of 100 copied 3 GB). A contiguous slice is one block copy; otherwise each
 * run along the last axis is one.
 */
function slice(args: KernelArgs): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  if (x.dtype === 'string' || x.dtype === 'complex64') {
    return originalKernels.get('Slice')!.kernelFunc(args as Parameters<KernelFunc>[0]) as TensorInfo;
  }
  const { begin, size } = args.attrs as unknown as tf.SliceAttrs;
  const [start, extent] = tf.slice_util.parseSliceParams(x, begin, size) as [number[], number[]];
  return withRunner(args.backend, (k) => {
    const out = k.allocate(extent, x.dtype);
    const count = tf.util.sizeFromShape(extent);
    if (count === 0) return out;
    const src = k.view(x);
    const dst = k.view(out);
    const strides = tf.util.computeStrides(x.shape);
    if (tf.slice_util.isSliceContinous(x.shape, start, extent)) {
      const from = tf.slice_util.computeFlatOffset(start, strides);
      dst.set(src.subarray(from, from + count));
      return out;
    }
    // Odometer over every axis but the last; each position is one run of `run` elements.
    const rank = extent.length;
    const run = extent[rank - 1]!;
    const position = new Array<number>(rank - 1).fill(0);
    let d = 0;
    for (;;) {
      let from = start[rank - 1]!;
      for (let a = 0; a < rank - 1; a++) from += (start[a]! + position[a]!) * strides[a]!;
      dst.set(src.subarray(from, from + run), d);
      d += run;
      let a = rank - 2;
      while (a >= 0 && ++position[a]! === extent[a]) position[a--] = 0;
      if (a < 0) return out;
    }
  });
}

export const sliceKernels: KernelConfig[] = [{ kernelName: 'Slice', backendName: WASM, kernelFunc: slice as unknown as KernelFunc }];
