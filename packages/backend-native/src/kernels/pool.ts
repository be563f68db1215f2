import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { addon, call, Heap, type KernelArgs, previous, WASM } from './heap';

/**
 * `MaxPoolGrad` (2-D, NHWC, float32) as one compiled pass over the windows: each dy goes to the
 * first in-bounds position of its window (row-major) whose value equals the pooled maximum, as
 * tfjs' cpu backend and `@kd/backend-wasm`'s JavaScript loop do, with the contributions to an
 * input element added in the same order (the same float32 sums). Other dtypes go to the kernel
 * registered before.
 */
function maxPoolGrad(args: KernelArgs): TensorInfo | TensorInfo[] {
  const { dy, input, output } = args.inputs as { dy: TensorInfo; input: TensorInfo; output: TensorInfo };
  if ([dy, input, output].some((t) => t.dtype !== 'float32') || input.shape.length !== 4) return previous('MaxPoolGrad', args);
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as tf.MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const heap = new Heap(args.backend);
  const dx = heap.allocate(input.shape);
  const geometry = Int32Array.from([
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.strideHeight,
    info.strideWidth,
    info.filterHeight,
    info.filterWidth,
    info.dilationHeight,
    info.dilationWidth,
    info.padInfo.top,
    info.padInfo.left,
  ]);
  call('MaxPoolGrad', () =>
    addon().maxPoolGrad(heap.buffer(), heap.offset(dy), heap.offset(input), heap.offset(output), heap.offset(dx), geometry),
  );
  return dx;
}

export const poolKernels: KernelConfig[] = [
  { kernelName: 'MaxPoolGrad', backendName: WASM, kernelFunc: maxPoolGrad as unknown as KernelFunc },
];
