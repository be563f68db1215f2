import type { KernelConfig } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { BackendWasmError } from './errors';
import { broadcastKernels } from './kernels/broadcast';
import { convKernels } from './kernels/conv';
import { gatherKernels } from './kernels/gather';
import { identityKernels } from './kernels/identity';
import { lossKernels } from './kernels/losses';
import { matMulKernels } from './kernels/matmul';
import { optimizerKernels } from './kernels/optimizers';
import { poolKernels } from './kernels/pool';
import { originalKernels, WASM } from './kernels/runner';
import { segmentKernels } from './kernels/segment';
import { sliceKernels } from './kernels/slice';
import { describeValue, didYouMean } from './options';

/** One kernel that `patchWasmKernels` registered on the wasm backend. */
export interface PatchedKernel {
  /** tfjs kernel name, e.g. `Conv2DBackpropFilter`. */
  kernel: string;
  /** `added`: wasm had none; `replaced`: wasm's was wrong or slow. */
  action: 'added' | 'replaced';
  /** Why, in one line. */
  reason: string;
}

const REASONS: Record<string, string> = {
  Conv2DBackpropInput: 'stock kernel is a naive loop (~2 GFLOPS); now zero-spread dy + XNNPACK conv2d with the rotated filter',
  Conv2DBackpropFilter:
    'missing on wasm: conv2d gradients failed; now one XNNPACK matmul of block-copied operands (stride 1), im2col + a matmul (few input channels) or an XNNPACK conv2d of transposed x and dy',
  Conv3DBackpropInputV2: 'stock kernel returns wrong values; now zero-spread dy + conv3d with the rotated filter',
  Conv3DBackpropFilterV2: 'stock kernel returns wrong values for strides > 1; now a conv3d of transposed x and dy',
  DepthwiseConv2dNativeBackpropInput: 'missing on wasm; now a depthwise conv of zero-spread dy with the rotated filter',
  DepthwiseConv2dNativeBackpropFilter: 'missing on wasm; now a depthwise conv with the batch folded into channels',
  GatherV2: 'stock kernel walks every element through generic strides (~40 ns per float); now block copies of whole slices',
  Slice:
    'stock kernel first copies the whole input out of the heap for every slice (31 MB to slice a batch of 100 of 10,000 images); now copies only the slice',
  Identity: 'stock kernel copies the buffer, and tfjs clones every tensor a gradient tape saves; now shares it (reference-counted)',
  UnsortedSegmentSum: 'missing on wasm (gradient of gather); now ScatterNd',
  MaxPoolGrad:
    'stock kernel drops the gradient of windows whose max is <= 0 (running max starts at FLT_MIN); now one pass over the windows (unchecked, unrolled 2x2 inside the input)',
  MaxPool3D: 'stock kernel returns wrong maxima when a window is all negative',
  MaxPool3DGrad: 'stock kernel drops the gradient of windows whose max is <= 0',
  BatchMatMul:
    'transposed or batched products fell back to a scalar loop; now folded batches or one XNNPACK product per batch (matrix-vector products stay on the stock loop)',
  _FusedMatMul: 'stock kernel adds the wrong bias element to rows >= 1 when transposed/batched (and rejects rank-2 bias)',
  Add: 'wrong for outputs of rank > 6; now coalesces axes first',
  Sub: 'wrong for outputs of rank > 6; now coalesces axes first',
  Multiply: 'wrong for outputs of rank > 6; now coalesces axes first',
  RealDiv: 'wrong for outputs of rank > 6; now coalesces axes first',
  SquaredDifference: 'wrong for outputs of rank > 6; now coalesces axes first',
  KdAdamUpdate: "@kd/core's Adam / AdamW update as one pass over the heap instead of ~13 element-wise kernels per variable",
  KdSgdUpdate: "@kd/core's SGD (momentum, Nesterov, weight decay) update as one pass over the heap instead of up to 6 kernels per variable",
  KdRmspropUpdate: "@kd/core's RMSprop (momentum, weight decay) update as one pass over the heap instead of up to 10 kernels per variable",
  KdLogSoftmax: "@kd/core's logSoftmax(logits / T) (the teacher's distribution at T) as one pass over the rows instead of ~10 kernels",
  KdSoftTargetLoss: "@kd/core's soft-target loss (temperature KL / cross-entropy) as one pass over the rows instead of ~12 kernels",
  KdSoftTargetLossGrad: "the soft-target loss's gradient for the student logits as one pass instead of ~8 kernels",
  KdHardLabelLoss: "@kd/core's hard-label cross-entropy as one pass over the rows instead of ~12 kernels (no one-hot)",
  KdHardLabelLossGrad: "the hard-label cross-entropy's gradient for the logits as one pass instead of ~6 kernels",
};

/** Every kernel this package registers on wasm, in registration order. */
export const PATCHES: readonly KernelConfig[] = [
  ...convKernels,
  ...poolKernels,
  ...matMulKernels,
  ...segmentKernels,
  ...gatherKernels,
  ...sliceKernels,
  ...identityKernels,
  ...broadcastKernels,
  ...optimizerKernels,
  ...lossKernels,
];

/** Names of the kernels `patchWasmKernels` registers. */
export const PATCHED_KERNEL_NAMES: readonly string[] = PATCHES.map((p) => p.kernelName);

const installed = new Set<string>();

/** Throws `bad-option` unless `names` is a list of strings, `unknown-kernel` for a name not patched. */
export function checkKernelNames(names: unknown, where: string, what: string): asserts names is readonly string[] {
  if (!Array.isArray(names) || names.some((n) => typeof n !== 'string')) {
    throw new BackendWasmError('bad-option', `${where}: ${what} must be a list of kernel names, got ${describeValue(names)}`);
  }
  for (const name of names as string[]) {
    if (!PATCHED_KERNEL_NAMES.includes(name)) {
      throw new BackendWasmError(
        'unknown-kernel',
        `${where}: ${what} names the kernel "${name}", which this package does not patch${didYouMean(name, PATCHED_KERNEL_NAMES)} ` +
          `(patched: ${PATCHED_KERNEL_NAMES.join(', ')})`,
      );
    }
  }
}

/** True when `patchWasmKernels` has run and `unpatchWasmKernels` has not undone it. */
export function isWasmPatched(): boolean {
  return installed.size > 0;
}

/**
 * Registers the patched kernels on the `wasm` backend (synchronously). The wasm backend's package
 * must have been imported (its kernels registered) first; `useWasmTraining` does both. Calling it
 * again changes nothing and returns an empty list.
 *
 * @param only - Restrict to these kernel names (default: all of {@link PATCHED_KERNEL_NAMES});
 *   another name throws `unknown-kernel`.
 * @returns What was added or replaced.
 */
export function patchWasmKernels(only?: readonly string[]): PatchedKernel[] {
  if (only != null) checkKernelNames(only, 'patchWasmKernels', 'the kernel list');
  if (tf.getKernelsForBackend(WASM).length === 0) {
    throw new BackendWasmError(
      'wasm-kernels-missing',
      "@kd/backend-wasm: no wasm kernels are registered. Import '@tensorflow/tfjs-backend-wasm' first " +
        '(or call useWasmTraining(), which does).',
    );
  }
  const report: PatchedKernel[] = [];
  for (const patch of PATCHES) {
    const name = patch.kernelName;
    if (only != null && !only.includes(name)) continue;
    if (installed.has(name)) continue;
    const original = tf.getKernel(name, WASM);
    if (original != null) {
      originalKernels.set(name, original);
      tf.unregisterKernel(name, WASM);
    }
    const config: KernelConfig = { ...patch };
    // Keep the stock set-up (cwrap of the C++ entry points): the patched kernels may call the stock
    // kernel, and the backend runs set-up functions when it initialises after this call.
    if (original?.setupFunc != null) config.setupFunc = original.setupFunc;
    if (original?.disposeFunc != null) config.disposeFunc = original.disposeFunc;
    tf.registerKernel(config);
    installed.add(name);
    report.push({ kernel: name, action: original == null ? 'added' : 'replaced', reason: REASONS[name] ?? '' });
  }
  return report;
}

/** Restores wasm's stock kernels (removes the added ones). Mainly for tests and comparisons. */
export function unpatchWasmKernels(): void {
  for (const name of installed) {
    tf.unregisterKernel(name, WASM);
    const original = originalKernels.get(name);
    if (original != null) tf.registerKernel(original);
    originalKernels.delete(name);
  }
  installed.clear();
}
