import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { addon, call, Heap, type KernelArgs, previous, WASM } from './heap';

/**
 * `@kd/core`'s fused losses (`KdLogSoftmax`, `KdSoftTargetLoss`, `KdSoftTargetLossGrad`,
 * `KdHardLabelLoss`, `KdHardLabelLossGrad`) as compiled loops over the wasm heap: the operations
 * of `@kd/backend-wasm`'s JavaScript kernels of the same names in the same order (double-precision
 * rows, one float32 rounding per output), ~5x faster on a [64, 10] batch. They can differ from the
 * wasm kernels only where the C library's `exp`/`log` and JavaScript's `Math.exp`/`Math.log` round
 * a double differently (tests: within 1 float32 ulp). Anything but float32 [batch, classes]
 * logits goes to the kernel registered before.
 */

/** [batch, classes] of float32 2-D logits, or undefined. */
function rowsOf(logits: TensorInfo): [number, number] | undefined {
  return logits.dtype === 'float32' && logits.shape.length === 2 ? (logits.shape as [number, number]) : undefined;
}

/** The label mode of the addon: 0 int32 class indices, 1 float32 class indices, 2 float32 targets [batch, classes]; -1: not handled. */
function labelMode(labels: TensorInfo, batch: number, classes: number): number {
  if (labels.shape.length === 1 && labels.shape[0] === batch) return labels.dtype === 'int32' ? 0 : labels.dtype === 'float32' ? 1 : -1;
  if (labels.shape.length === 2 && labels.shape[0] === batch && labels.shape[1] === classes && labels.dtype === 'float32') return 2;
  return -1;
}

function logSoftmax(args: KernelArgs): TensorInfo | TensorInfo[] {
  const { logits } = args.inputs as { logits: TensorInfo };
  const rows = rowsOf(logits);
  if (!rows) return previous('KdLogSoftmax', args);
  const { temperature } = args.attrs as unknown as { temperature: number };
  const heap = new Heap(args.backend);
  const out = heap.allocate(rows);
  call('KdLogSoftmax', () => addon().logSoftmax(heap.buffer(), heap.offset(logits), heap.offset(out), rows[0], rows[1], temperature));
  return out;
}

function softTargetLoss(args: KernelArgs): TensorInfo | TensorInfo[] {
  const { logits, logP } = args.inputs as Record<'logits' | 'logP', TensorInfo>;
  const rows = rowsOf(logits);
  if (!rows || logP.dtype !== 'float32') return previous('KdSoftTargetLoss', args);
  const { temperature, form } = args.attrs as unknown as { temperature: number; form: string };
  const heap = new Heap(args.backend);
  const out = heap.allocate([]);
  call('KdSoftTargetLoss', () =>
    addon().softTargetLoss(
      heap.buffer(),
      heap.offset(logits),
      heap.offset(logP),
      heap.offset(out),
      rows[0],
      rows[1],
      temperature,
      form === 'kl' ? 1 : 0,
    ),
  );
  return out;
}

function softTargetLossGrad(args: KernelArgs): TensorInfo | TensorInfo[] {
  const { logits, logP, dy } = args.inputs as Record<'logits' | 'logP' | 'dy', TensorInfo>;
  const rows = rowsOf(logits);
  if (!rows || logP.dtype !== 'float32' || dy.dtype !== 'float32') return previous('KdSoftTargetLossGrad', args);
  const { temperature } = args.attrs as unknown as { temperature: number };
  const heap = new Heap(args.backend);
  const out = heap.allocate(rows);
  call('KdSoftTargetLossGrad', () =>
    addon().softTargetLossGrad(
      heap.buffer(),
      heap.offset(logits),
      heap.offset(logP),
      heap.offset(dy),
      heap.offset(out),
      rows[0],
      rows[1],
      temperature,
    ),
  );
  return out;
}

function hardLabelLoss(args: KernelArgs): TensorInfo | TensorInfo[] {
  const { logits, labels } = args.inputs as Record<'logits' | 'labels', TensorInfo>;
  const rows = rowsOf(logits);
  const mode = rows ? labelMode(labels, rows[0], rows[1]) : -1;
  if (!rows || mode < 0) return previous('KdHardLabelLoss', args);
  const heap = new Heap(args.backend);
  const out = heap.allocate([]);
  call('KdHardLabelLoss', () =>
    addon().hardLabelLoss(heap.buffer(), heap.offset(logits), heap.offset(labels), heap.offset(out), rows[0], rows[1], mode),
  );
  return out;
}

function hardLabelLossGrad(args: KernelArgs): TensorInfo | TensorInfo[] {
  const { logits, labels, dy } = args.inputs as Record<'logits' | 'labels' | 'dy', TensorInfo>;
  const rows = rowsOf(logits);
  const mode = rows ? labelMode(labels, rows[0], rows[1]) : -1;
  if (!rows || mode < 0 || dy.dtype !== 'float32') return previous('KdHardLabelLossGrad', args);
  const heap = new Heap(args.backend);
  const out = heap.allocate(rows);
  call('KdHardLabelLossGrad', () =>
    addon().hardLabelLossGrad(
      heap.buffer(),
      heap.offset(logits),
      heap.offset(labels),
      heap.offset(dy),
      heap.offset(out),
      rows[0],
      rows[1],
      mode,
    ),
  );
  return out;
}

export const lossKernels: KernelConfig[] = [
  { kernelName: 'KdLogSoftmax', backendName: WASM, kernelFunc: logSoftmax as unknown as KernelFunc },
  { kernelName: 'KdSoftTargetLoss', backendName: WASM, kernelFunc: softTargetLoss as unknown as KernelFunc },
  { kernelName: 'KdSoftTargetLossGrad', backendName: WASM, kernelFunc: softTargetLossGrad as unknown as KernelFunc },
  { kernelName: 'KdHardLabelLoss', backendName: WASM, kernelFunc: hardLabelLoss as unknown as KernelFunc },
  { kernelName: 'KdHardLabelLossGrad', backendName: WASM, kernelFunc: hardLabelLossGrad as unknown as KernelFunc },
];
