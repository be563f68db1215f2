import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { type KernelArgs, KernelRunner, WASM } from './runner';

/**
 * `@kd/core`'s losses as single kernels (names and contract documented there:
 * `FUSED_LOSS_KERNELS`): the soft-target (temperature KL or cross-entropy) and hard-label
 * cross-entropy losses, their gradients for the logits, and the log-softmax at a temperature, each one pass over the rows on the
 * wasm heap instead of ~10 kernels. Row sums and the log-sum-exp are computed in double precision
 * and rounded to float32 once, in a fixed order, so the results are deterministic and within
 * ~1e-7 relative of the float32 op forms (not bit-equal to them).
 */

/** Runs `fn` with a runner whose intermediates are freed after; `fn` keeps its output. */
function withOutput(args: KernelArgs, fn: (r: KernelRunner) => TensorInfo): TensorInfo {
  const r = new KernelRunner(args.backend);
  try {
    return fn(r);
  } finally {
    r.dispose();
  }
}

/** Row `b`'s log-sum-exp of `z[b, :] * scale`. */
function logSumExp(z: Float32Array, b: number, classes: number, scale: number): number {
  const base = b * classes;
  let max = Number.NEGATIVE_INFINITY;
  for (let c = 0; c < classes; c++) max = Math.max(max, z[base + c]! * scale);
  if (!Number.isFinite(max)) return max;
  let sum = 0;
  for (let c = 0; c < classes; c++) sum += Math.exp(z[base + c]! * scale - max);
  return max + Math.log(sum);
}

function softTargetLoss(args: KernelArgs): TensorInfo {
  const { logits, logP } = args.inputs as Record<'logits' | 'logP', TensorInfo>;
  const { temperature, form } = args.attrs as unknown as { temperature: number; form: string };
  const [batch, classes] = logits.shape as [number, number];
  return withOutput(args, (r) => {
    const out = r.allocate([]);
    const z = r.view(logits) as Float32Array;
    const lp = r.view(logP) as Float32Array;
    const scale = 1 / temperature;
    const kl = form === 'kl';
    let total = 0;
    for (let b = 0; b < batch; b++) {
      const lse = logSumExp(z, b, classes, scale);
      let row = 0;
      for (let c = 0; c < classes; c++) {
        const i = b * classes + c;
        const logQ = z[i]! * scale - lse;
        const p = Math.exp(lp[i]!);
        row += kl ? p * (lp[i]! - logQ) : -p * logQ;
      }
      total += row;
    }
    (r.view(out) as Float32Array)[0] = (total * temperature * temperature) / batch;
    return r.keep(out);
  });
}

function softTargetLossGrad(args: KernelArgs): TensorInfo {
  const { logits, logP, dy } = args.inputs as Record<'logits' | 'logP' | 'dy', TensorInfo>;
  const { temperature } = args.attrs as unknown as { temperature: number };
  const [batch, classes] = logits.shape as [number, number];
  return withOutput(args, (r) => {
    const out = r.allocate([batch, classes]);
    const z = r.view(logits) as Float32Array;
    const lp = r.view(logP) as Float32Array;
    const g = (r.view(dy) as Float32Array)[0]!;
    const dz = r.view(out) as Float32Array;
    const scale = 1 / temperature;
    const factor = (g * temperature) / batch;
    for (let b = 0; b < batch; b++) {
      const lse = logSumExp(z, b, classes, scale);
      let sumP = 0;
      for (let c = 0; c < classes; c++) sumP += Math.exp(lp[b * classes + c]!);
      for (let c = 0; c < classes; c++) {
        const i = b * classes + c;
        dz[i] = factor * (Math.exp(z[i]! * scale - lse) * sumP - Math.exp(lp[i]!));
      }
    }
    return r.keep(out);
  });
}

/** The target of row `b`, class `c`: one-hot of int32 labels (0 outside [0, classes)) or the float targets. */
function targetOf(y: Float32Array | Int32Array, oneHot: boolean, classes: number): (b: number, c: number) => number {
  return oneHot ? (b, c) => (y[b] === c ? 1 : 0) : (b, c) => y[b * classes + c]!;
}

function hardLabelLoss(args: KernelArgs): TensorInfo {
  const { logits, labels } = args.inputs as Record<'logits' | 'labels', TensorInfo>;
  const [batch, classes] = logits.shape as [number, number];
  return withOutput(args, (r) => {
    const out = r.allocate([]);
    const z = r.view(logits) as Float32Array;
    const oneHot = labels.shape.length === 1;
    const y = targetOf(r.view(labels) as Float32Array | Int32Array, oneHot, classes);
    let total = 0;
    for (let b = 0; b < batch; b++) {
      const lse = logSumExp(z, b, classes, 1);
      for (let c = 0; c < classes; c++) {
        const t = y(b, c);
        if (t !== 0) total += t * (z[b * classes + c]! - lse);
      }
    }
    (r.view(out) as Float32Array)[0] = -total / batch;
    return r.keep(out);
  });
}

function hardLabelLossGrad(args: KernelArgs): TensorInfo {
  const { logits, labels, dy } = args.inputs as Record<'logits' | 'labels' | 'dy', TensorInfo>;
  const [batch, classes] = logits.shape as [number, number];
  return withOutput(args, (r) => {
    const out = r.allocate([batch, classes]);
    const z = r.view(logits) as Float32Array;
    const oneHot = labels.shape.length === 1;
    const y = targetOf(r.view(labels) as Float32Array | Int32Array, oneHot, classes);
    const g = (r.view(dy) as Float32Array)[0]!;
    const dz = r.view(out) as Float32Array;
    const factor = g / batch;
    for (let b = 0; b < batch; b++) {
      const lse = logSumExp(z, b, classes, 1);
      let sumY = 0;
      for (let c = 0; c < classes; c++) sumY += y(b, c);
      for (let c = 0; c < classes; c++) {
        const i = b * classes + c;
        dz[i] = factor * (Math.exp(z[i]! - lse) * sumY - y(b, c));
      }
    }
    return r.keep(out);
  });
}

function logSoftmax(args: KernelArgs): TensorInfo {
  const { logits } = args.inputs as Record<'logits', TensorInfo>;
  const { temperature } = args.attrs as unknown as { temperature: number };
  const [batch, classes] = logits.shape as [number, number];
  return withOutput(args, (r) => {
    const out = r.allocate([batch, classes]);
    const z = r.view(logits) as Float32Array;
    const y = r.view(out) as Float32Array;
    const scale = 1 / temperature;
    for (let b = 0; b < batch; b++) {
      const lse = logSumExp(z, b, classes, scale);
      for (let c = 0; c < classes; c++) y[b * classes + c] = z[b * classes + c]! * scale - lse;
    }
    return r.keep(out);
  });
}

export const lossKernels: KernelConfig[] = [
  { kernelName: 'KdLogSoftmax', backendName: WASM, kernelFunc: logSoftmax as unknown as KernelFunc },
  { kernelName: 'KdSoftTargetLoss', backendName: WASM, kernelFunc: softTargetLoss as unknown as KernelFunc },
  { kernelName: 'KdSoftTargetLossGrad', backendName: WASM, kernelFunc: softTargetLossGrad as unknown as KernelFunc },
  { kernelName: 'KdHardLabelLoss', backendName: WASM, kernelFunc: hardLabelLoss as unknown as KernelFunc },
  { kernelName: 'KdHardLabelLossGrad', backendName: WASM, kernelFunc: hardLabelLossGrad as unknown as KernelFunc },
];
