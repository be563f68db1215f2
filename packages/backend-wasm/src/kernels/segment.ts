import type * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { type KernelArgs, WASM, withRunner } from './runner';

function info(backend: KernelArgs['backend'], shape: number[], values: Int32Array): TensorInfo {
  return { dataId: backend.write(values, shape, 'int32'), shape, dtype: 'int32' };
}

/**
 * `UnsortedSegmentSum` (the gradient of `gather`), missing on wasm 4.22: a `ScatterNd`, which sums
 * duplicate indices. Ids outside `[0, numSegments)` are dropped, as TensorFlow does.
 */
function unsortedSegmentSum(args: KernelArgs): TensorInfo {
  const { x, segmentIds } = args.inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const { numSegments } = args.attrs as unknown as tf.UnsortedSegmentSumAttrs;
  const backend = args.backend;
  return withRunner(backend, (k) => {
    const n = segmentIds.shape.reduce((a, b) => a * b, 1);
    const rest = x.shape.slice(segmentIds.shape.length);
    const ids = backend.readSync(segmentIds.dataId) as Int32Array | Float32Array;
    const keep: number[] = [];
    for (let i = 0; i < n; i++) {
      const id = ids[i]!;
      if (id >= 0 && id < numSegments) keep.push(i);
    }
    if (keep.length === 0) return k.run('Fill', {}, { shape: [numSegments, ...rest], value: 0, dtype: x.dtype });
    let updates = k.reshape(x, [n, ...rest]);
    let indices: TensorInfo;
    if (keep.length === n) {
      indices = k.reshape(segmentIds, [n, 1]);
      if (segmentIds.dtype !== 'int32') indices = k.run('Cast', { x: indices }, { dtype: 'int32' });
    } else {
      const rows = info(backend, [keep.length], Int32Array.from(keep));
      updates = k.run('GatherV2', { x: updates, indices: rows }, { axis: 0, batchDims: 0 });
      backend.disposeData(rows.dataId);
      indices = info(
        backend,
        [keep.length, 1],
        Int32Array.from(keep, (i) => ids[i]!),
      );
      k.adopt(indices);
    }
    return k.run('ScatterNd', { indices, updates }, { shape: [numSegments, ...rest] });
  });
}

/** Segment kernels missing on wasm. */
export const segmentKernels: KernelConfig[] = [
  { kernelName: 'UnsortedSegmentSum', backendName: WASM, kernelFunc: unsortedSegmentSum as KernelFunc },
];
