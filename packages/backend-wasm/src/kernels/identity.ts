import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { type KernelArgs, originalKernels, WASM } from './runner';

/**
 * Identity that shares the input's buffer (reference-counted, as wasm's own Reshape and the cpu
 * backend's Identity do) instead of copying it. tfjs clones every tensor a gradient tape saves with
 * Identity, so on wasm each training step copied its activations once more (36 copies, ~1 ms of a
 * 28 ms Fashion-MNIST CNN step; 136 per step with CRD's [batch, K] scores). No wasm kernel writes
 * into its inputs, so sharing is safe.
 */
function identity(args: KernelArgs): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  if (x.dtype === 'string') return originalKernels.get('Identity')!.kernelFunc(args as Parameters<KernelFunc>[0]) as TensorInfo;
  args.backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

export const identityKernels: KernelConfig[] = [{ kernelName: 'Identity', backendName: WASM, kernelFunc: identity as KernelFunc }];
