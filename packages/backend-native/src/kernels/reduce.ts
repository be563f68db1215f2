import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { addon, call, Heap, type KernelArgs, previous, sizeOf, WASM } from './heap';

/**
 * `Sum` of float32 tensors over a leading block of axes (`[0 .. k-1]`: column sums, what a bias
 * gradient over NHWC activations is) or a trailing block (row sums), as one pass of compiled code.
 * wasm's kernel transposes the input first when the axes are not the last ones; both add the
 * elements of each output in the same order (increasing index along the reduced axes), so the
 * float32 results are the same bits. Other axes and dtypes go to the kernel registered before.
 */
function sum(args: KernelArgs): TensorInfo | TensorInfo[] {
  const { x } = args.inputs as { x: TensorInfo };
  const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
  const rank = x.shape.length;
  if (x.dtype !== 'float32' || rank === 0) return previous('Sum', args);
  const axes = [...new Set(tf.util.parseAxisParam(axis, x.shape))].sort((a, b) => a - b);
  if (axes.length === 0) return previous('Sum', args);
  const leading = axes.every((a, i) => a === i);
  const trailing = axes.every((a, i) => a === rank - axes.length + i);
  if (!leading && !trailing) return previous('Sum', args);
  const reduced = axes.reduce((n, a) => n * x.shape[a]!, 1);
  const kept = sizeOf(x.shape) / Math.max(1, reduced);
  if (sizeOf(x.shape) === 0) return previous('Sum', args);
  const outShape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
  const heap = new Heap(args.backend);
  const out = heap.allocate(outShape);
  // Leading axes: column sums of [reduced, kept]; trailing (or all) axes: row sums of [kept, reduced].
  const columns = leading && !(trailing && axes.length === rank);
  call('Sum', () =>
    addon().sum(heap.buffer(), heap.offset(x), heap.offset(out), columns ? reduced : kept, columns ? kept : reduced, columns ? 1 : 0),
  );
  return out;
}

export const reduceKernels: KernelConfig[] = [{ kernelName: 'Sum', backendName: WASM, kernelFunc: sum as unknown as KernelFunc }];
