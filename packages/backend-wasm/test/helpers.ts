import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers the gradients
import { expect } from 'vitest';
import { useWasmTraining } from '../src';
import { originalKernels } from '../src/kernels/runner';

export const report = await useWasmTraining();

export type Values = Float32Array | Int32Array | Uint8Array;

/** Live tensors and backend buffers: both must be unchanged around every kernel call. */
export function counts(): { tensors: number; dataIds: number } {
  return { tensors: tf.memory().numTensors, dataIds: tf.engine().backend.numDataIds() };
}

/** Runs `fn` on `backend` inside a tidy, returns the values, and checks that nothing leaked. */
export function runOn(backend: 'cpu' | 'wasm', fn: () => tf.Tensor | tf.Tensor[]): Values[] {
  tf.setBackend(backend);
  const before = counts();
  const values = tf.tidy(() => {
    const out = [fn()].flat();
    return out.map((t) => t.dataSync().slice() as Values);
  });
  expect(counts(), `leak on ${backend}`).toEqual(before);
  tf.setBackend('wasm');
  return values;
}

/** Largest |a - b| / (1 + |a|) over all outputs. */
export function maxRelError(a: Values[], b: Values[]): number {
  expect(b.length).toBe(a.length);
  let worst = 0;
  a.forEach((x, j) => {
    const y = b[j]!;
    expect(y.length).toBe(x.length);
    for (let i = 0; i < x.length; i++) {
      const e = Math.abs(x[i]! - y[i]!) / (1 + Math.abs(x[i]!));
      worst = Number.isNaN(e) ? Number.POSITIVE_INFINITY : Math.max(worst, e);
    }
  });
  return worst;
}

/** Computes `fn` on cpu and on patched wasm and expects the same values. */
export function expectSameOnCpu(fn: () => tf.Tensor | tf.Tensor[], tolerance = 1e-4): void {
  const cpu = runOn('cpu', fn);
  const wasm = runOn('wasm', fn);
  expect(maxRelError(cpu, wasm)).toBeLessThan(tolerance);
}

/** Seeded normal tensor. */
export function rand(shape: number[], seed: number, mean = 0): tf.Tensor {
  return tf.randomNormal(shape, mean, 1, 'float32', seed);
}

/**
 * Checks the gradients of `f` on patched wasm against central finite differences of the loss
 * `sum(f(xs) * w)` along a random direction v: <grad, v> ~ (L(x + eps v) - L(x - eps v)) / 2 eps.
 * Computed in float64 on the host from float32 losses, so the tolerance is loose.
 */
export function expectFiniteDifferences(f: (...xs: tf.Tensor[]) => tf.Tensor, shapes: number[][], seed: number, eps = 1e-2): void {
  tf.setBackend('wasm');
  const before = counts();
  tf.tidy(() => {
    const xs = shapes.map((s, i) => rand(s, seed + i));
    const vs = shapes.map((s, i) => rand(s, seed + 100 + i));
    const y0 = f(...xs);
    const w = rand(y0.shape, seed + 200);
    const loss = (...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), w));
    const grads = tf.grads(loss)(xs);
    let analytic = 0;
    grads.forEach((g, i) => {
      analytic += tf.sum(tf.mul(g, vs[i]!)).dataSync()[0]!;
    });
    const shifted = (sign: number) => loss(...xs.map((x, i) => tf.add(x, tf.mul(vs[i]!, sign * eps)))).dataSync()[0]!;
    const numeric = (shifted(1) - shifted(-1)) / (2 * eps);
    expect(Math.abs(analytic - numeric), `analytic ${analytic} vs numeric ${numeric}`).toBeLessThan(2e-2 * (1 + Math.abs(numeric)));
  });
  expect(counts()).toEqual(before);
}

/**
 * Runs `fn` with the wasm kernels named in `names` wrapped by call counters and returns how often
 * each ran. The patched kernels look their inner kernels up by name on every call, so the wrappers
 * see those calls too; `stock: true` wraps the stock kernels the patched ones call through
 * `runOriginal` instead. Everything is restored afterwards.
 */
export function countKernelCalls(names: readonly string[], fn: () => void, { stock = false } = {}): Record<string, number> {
  const calls: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  const counted = (config: tf.KernelConfig): tf.KernelConfig => ({
    ...config,
    kernelFunc: (args) => {
      calls[config.kernelName]!++;
      return config.kernelFunc(args);
    },
  });
  const originals = names.map((name) => (stock ? originalKernels.get(name) : tf.getKernel(name, 'wasm'))!);
  for (const config of originals) {
    if (stock) {
      originalKernels.set(config.kernelName, counted(config));
    } else {
      tf.unregisterKernel(config.kernelName, 'wasm');
      tf.registerKernel(counted(config));
    }
  }
  try {
    fn();
  } finally {
    for (const config of originals) {
      if (stock) {
        originalKernels.set(config.kernelName, config);
      } else {
        tf.unregisterKernel(config.kernelName, 'wasm');
        tf.registerKernel(config);
      }
    }
  }
  return calls;
}

/** Expects the same values, with NaN matching NaN and infinities matching exactly. */
export function expectSameNonFinite(a: Values[], b: Values[], tolerance: number): void {
  expect(b.length).toBe(a.length);
  a.forEach((x, j) => {
    const y = b[j]!;
    for (let i = 0; i < x.length; i++) {
      const [u, v] = [x[i]!, y[i]!];
      if (Number.isFinite(u)) expect(Math.abs(u - v) / (1 + Math.abs(u)), `element ${i}`).toBeLessThan(tolerance);
      else expect(Object.is(u, v) || (Number.isNaN(u) && Number.isNaN(v)), `element ${i}: ${u} vs ${v}`).toBe(true);
    }
  });
}
