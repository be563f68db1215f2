import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { addon, call, Heap, type KernelArgs, previous, sizeOf, WASM } from './heap';

/**
 * `@kd/core`'s fused optimizer updates (`KdAdamUpdate`, `KdSgdUpdate`, `KdRmspropUpdate`: one
 * kernel per variable and step) as one pass of compiled code over the wasm heap. Each operation is
 * a float32 operation in the order of the plain-op form (the addon is built without fused
 * multiply-adds), so the outputs are bit for bit those of `@kd/backend-wasm`'s kernels of the same
 * names: a run's bits do not depend on whether the native package is in use for these kernels.
 */
const f = Math.fround;

/** float32 inputs only; anything else goes to the kernel registered before (it raises tfjs' errors). */
function allFloat32(tensors: readonly (TensorInfo | undefined)[]): boolean {
  return tensors.every((t) => t == null || t.dtype === 'float32');
}

function adamUpdate(args: KernelArgs): TensorInfo[] | TensorInfo {
  const { variable, gradient, m, v } = args.inputs as Record<'variable' | 'gradient' | 'm' | 'v', TensorInfo>;
  if (!allFloat32([variable, gradient, m, v])) return previous('KdAdamUpdate', args);
  const { beta1, beta2, epsilon, stepSize, correction, decay } = args.attrs as Record<string, number>;
  const heap = new Heap(args.backend);
  const outs = [heap.allocate(variable.shape), heap.allocate(variable.shape), heap.allocate(variable.shape)];
  const offsets = Int32Array.from([variable, gradient, m, v, ...outs], (t) => heap.offset(t));
  call('KdAdamUpdate', () =>
    addon().adamUpdate(
      heap.buffer(),
      offsets,
      sizeOf(variable.shape),
      f(beta1!),
      f(1 - beta1!),
      f(beta2!),
      f(1 - beta2!),
      f(epsilon!),
      f(stepSize!),
      f(correction!),
      f(decay!),
    ),
  );
  return outs;
}

function sgdUpdate(args: KernelArgs): TensorInfo[] | TensorInfo {
  const { variable, gradient, buffer } = args.inputs as Record<'variable' | 'gradient', TensorInfo> & { buffer?: TensorInfo };
  if (!allFloat32([variable, gradient, buffer])) return previous('KdSgdUpdate', args);
  const { learningRate, momentum, nesterov, weightDecay } = args.attrs as Record<string, number | boolean>;
  const heap = new Heap(args.backend);
  const outW = heap.allocate(variable.shape);
  const outB = buffer ? heap.allocate(variable.shape) : undefined;
  const offsets = Int32Array.from([variable, gradient, outW, buffer, outB], (t) => (t ? heap.offset(t) : -1));
  call('KdSgdUpdate', () =>
    addon().sgdUpdate(
      heap.buffer(),
      offsets,
      sizeOf(variable.shape),
      f(learningRate as number),
      f(momentum as number),
      nesterov ? 1 : 0,
      f(weightDecay as number),
    ),
  );
  return outB ? [outW, outB] : [outW];
}

function rmspropUpdate(args: KernelArgs): TensorInfo[] | TensorInfo {
  const { variable, gradient, square, buffer } = args.inputs as Record<'variable' | 'gradient' | 'square', TensorInfo> & {
    buffer?: TensorInfo;
  };
  if (!allFloat32([variable, gradient, square, buffer])) return previous('KdRmspropUpdate', args);
  const { learningRate, rho, epsilon, momentum, weightDecay } = args.attrs as Record<string, number>;
  const heap = new Heap(args.backend);
  const outW = heap.allocate(variable.shape);
  const outS = heap.allocate(variable.shape);
  const outB = buffer ? heap.allocate(variable.shape) : undefined;
  const offsets = Int32Array.from([variable, gradient, square, outW, outS, buffer, outB], (t) => (t ? heap.offset(t) : -1));
  call('KdRmspropUpdate', () =>
    addon().rmspropUpdate(
      heap.buffer(),
      offsets,
      sizeOf(variable.shape),
      f(learningRate!),
      f(rho!),
      f(1 - rho!),
      f(epsilon!),
      f(momentum!),
      f(weightDecay!),
    ),
  );
  return outB ? [outW, outS, outB] : [outW, outS];
}

export const optimizerKernels: KernelConfig[] = [
  { kernelName: 'KdAdamUpdate', backendName: WASM, kernelFunc: adamUpdate as unknown as KernelFunc },
  { kernelName: 'KdSgdUpdate', backendName: WASM, kernelFunc: sgdUpdate as unknown as KernelFunc },
  { kernelName: 'KdRmspropUpdate', backendName: WASM, kernelFunc: rmspropUpdate as unknown as KernelFunc },
];
