import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { type KernelArgs, KernelRunner, WASM } from './runner';

/**
 * Optimizer updates as one kernel each, for `@kd/core`'s optimizers (kernel names and contract
 * documented there: `FUSED_UPDATE_KERNELS`). A dozen element-wise kernels per variable and step
 * become one pass over the wasm heap. Every operation is rounded to float32 (`Math.fround`) in
 * the order of the plain-op form, so the results are those of the separate float32 kernels.
 */
const f = Math.fround;

/** Runs `fn` with a runner whose intermediates are freed after; `fn` keeps its outputs. */
function withOutputs(args: KernelArgs, fn: (r: KernelRunner) => TensorInfo[]): TensorInfo[] {
  const r = new KernelRunner(args.backend);
  try {
    return fn(r);
  } finally {
    r.dispose();
  }
}

function adamUpdate(args: KernelArgs): TensorInfo[] {
  const { variable, gradient, m, v } = args.inputs as Record<'variable' | 'gradient' | 'm' | 'v', TensorInfo>;
  const { beta1, beta2, epsilon, stepSize, correction, decay } = args.attrs as Record<string, number>;
  return withOutputs(args, (r) => {
    const outW = r.allocate(variable.shape);
    const outM = r.allocate(variable.shape);
    const outV = r.allocate(variable.shape);
    const [w, g, m0, v0] = [variable, gradient, m, v].map((t) => r.view(t) as Float32Array) as Float32Array[];
    const [w1, m1, v1] = [outW, outM, outV].map((t) => r.view(t) as Float32Array) as Float32Array[];
    const b1 = f(beta1!);
    const c1 = f(1 - beta1!);
    const b2 = f(beta2!);
    const c2 = f(1 - beta2!);
    const eps = f(epsilon!);
    const size = f(stepSize!);
    const corr = f(correction!);
    const keep = f(decay!);
    for (let i = 0; i < w!.length; i++) {
      const gi = g![i]!;
      const mi = f(f(m0![i]! * b1) + f(gi * c1));
      const vi = f(f(v0![i]! * b2) + f(f(gi * gi) * c2));
      const denominator = f(f(f(Math.sqrt(vi)) / corr) + eps);
      const wi = keep === 1 ? w![i]! : f(w![i]! * keep);
      m1![i] = mi;
      v1![i] = vi;
      w1![i] = f(wi - f(f(mi / denominator) * size));
    }
    return [r.keep(outW), r.keep(outM), r.keep(outV)];
  });
}

function sgdUpdate(args: KernelArgs): TensorInfo[] {
  const { variable, gradient, buffer } = args.inputs as Record<'variable' | 'gradient', TensorInfo> & { buffer?: TensorInfo };
  const { learningRate, momentum, nesterov, weightDecay } = args.attrs as Record<string, number | boolean>;
  return withOutputs(args, (r) => {
    const outW = r.allocate(variable.shape);
    const outB = buffer ? r.allocate(variable.shape) : undefined;
    const w = r.view(variable) as Float32Array;
    const g = r.view(gradient) as Float32Array;
    const b0 = buffer ? (r.view(buffer) as Float32Array) : undefined;
    const w1 = r.view(outW) as Float32Array;
    const b1 = outB ? (r.view(outB) as Float32Array) : undefined;
    const rate = f(learningRate as number);
    const mu = f(momentum as number);
    const wd = f(weightDecay as number);
    for (let i = 0; i < w.length; i++) {
      const gi = wd > 0 ? f(g[i]! + f(w[i]! * wd)) : g[i]!;
      let direction = gi;
      if (b0 && b1) {
        const next = f(f(b0[i]! * mu) + gi);
        b1[i] = next;
        direction = nesterov ? f(gi + f(next * mu)) : next;
      }
      w1[i] = f(w[i]! - f(direction * rate));
    }
    return outB ? [r.keep(outW), r.keep(outB)] : [r.keep(outW)];
  });
}

function rmspropUpdate(args: KernelArgs): TensorInfo[] {
  const { variable, gradient, square, buffer } = args.inputs as Record<'variable' | 'gradient' | 'square', TensorInfo> & {
    buffer?: TensorInfo;
  };
  const { learningRate, rho, epsilon, momentum, weightDecay } = args.attrs as Record<string, number>;
  return withOutputs(args, (r) => {
    const outW = r.allocate(variable.shape);
    const outS = r.allocate(variable.shape);
    const outB = buffer ? r.allocate(variable.shape) : undefined;
    const w = r.view(variable) as Float32Array;
    const g = r.view(gradient) as Float32Array;
    const s0 = r.view(square) as Float32Array;
    const b0 = buffer ? (r.view(buffer) as Float32Array) : undefined;
    const w1 = r.view(outW) as Float32Array;
    const s1 = r.view(outS) as Float32Array;
    const b1 = outB ? (r.view(outB) as Float32Array) : undefined;
    const rate = f(learningRate!);
    const p = f(rho!);
    const q = f(1 - rho!);
    const eps = f(epsilon!);
    const mu = f(momentum!);
    const wd = f(weightDecay!);
    for (let i = 0; i < w.length; i++) {
      const gi = wd > 0 ? f(g[i]! + f(w[i]! * wd)) : g[i]!;
      const si = f(f(s0[i]! * p) + f(f(gi * gi) * q));
      s1[i] = si;
      let direction = f(gi / f(f(Math.sqrt(si)) + eps));
      if (b0 && b1) {
        direction = f(f(b0[i]! * mu) + direction);
        b1[i] = direction;
      }
      w1[i] = f(w[i]! - f(direction * rate));
    }
    return outB ? [r.keep(outW), r.keep(outS), r.keep(outB)] : [r.keep(outW), r.keep(outS)];
  });
}

export const optimizerKernels: KernelConfig[] = [
  { kernelName: 'KdAdamUpdate', backendName: WASM, kernelFunc: adamUpdate as unknown as KernelFunc },
  { kernelName: 'KdSgdUpdate', backendName: WASM, kernelFunc: sgdUpdate as unknown as KernelFunc },
  { kernelName: 'KdRmspropUpdate', backendName: WASM, kernelFunc: rmspropUpdate as unknown as KernelFunc },
];
