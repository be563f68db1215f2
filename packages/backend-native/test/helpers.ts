import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers the gradients
import { expect } from 'vitest';
import { useNativeKernels } from '../src';
import { state } from '../src/kernels/heap';

/** The native kernels over kd's patched wasm kernels (the package's default set-up). */
export const report = await useNativeKernels();

/**
 * CI sets KD_REQUIRE_NATIVE=1 (it installs g++ and libopenblas-dev and builds the addon): there a
 * missing addon fails the tests instead of skipping them.
 */
if (!report.active && process.env.KD_REQUIRE_NATIVE === '1') {
  throw new Error(`KD_REQUIRE_NATIVE=1 but the native kernels are off: ${report.reason}`);
}

/** Why the kernel tests are skipped, or undefined when they run. */
export const skipReason = report.active ? undefined : report.reason;

export type Values = Float32Array | Int32Array | Uint8Array;

/** Live tensors and backend buffers: both must be unchanged around every kernel call. */
export function counts(): { tensors: number; dataIds: number } {
  return { tensors: tf.memory().numTensors, dataIds: tf.engine().backend.numDataIds() };
}

/** Runs `fn` on `backend` inside a tidy, returns the values, and checks that nothing leaked. */
export function runOn(backend: 'cpu' | 'wasm', fn: () => tf.Tensor | tf.Tensor[]): { values: Values[]; shapes: number[][] } {
  tf.setBackend(backend);
  const before = counts();
  const out = tf.tidy(() => {
    const ts = [fn()].flat();
    return { values: ts.map((t) => t.dataSync().slice() as Values), shapes: ts.map((t) => t.shape) };
  });
  expect(counts(), `leak on ${backend}`).toEqual(before);
  tf.setBackend('wasm');
  return out;
}

/**
 * The golden comparison: the largest |native - cpu| / (|cpu| + rms(cpu)) over every element of
 * every output (rms: root mean square of that output, the floor for elements near zero, where
 * float32 sums of either backend cancel).
 */
export function relativeError(ref: Values[], got: Values[]): number {
  expect(got.length).toBe(ref.length);
  let worst = 0;
  ref.forEach((r, j) => {
    const g = got[j]!;
    expect(g.length).toBe(r.length);
    let sq = 0;
    for (let i = 0; i < r.length; i++) sq += r[i]! * r[i]!;
    const rms = Math.sqrt(sq / Math.max(1, r.length)) || 1;
    for (let i = 0; i < r.length; i++) {
      const e = Math.abs(g[i]! - r[i]!) / (Math.abs(r[i]!) + rms);
      worst = Number.isNaN(e) ? Number.POSITIVE_INFINITY : Math.max(worst, e);
    }
  });
  return worst;
}

/** The tolerance of the golden tests (float32 on both sides, different summation orders). */
export const TOLERANCE = 1e-5;

/**
 * Computes `fn` on wasm with the native kernels and `reference` (default `fn`) on cpu; expects the
 * same shapes and values.
 */
export function expectSameOnCpu(fn: () => tf.Tensor | tf.Tensor[], tolerance = TOLERANCE, reference = fn): number {
  const cpu = runOn('cpu', reference);
  const wasm = runOn('wasm', fn);
  expect(wasm.shapes).toEqual(cpu.shapes);
  const e = relativeError(cpu.values, wasm.values);
  expect(e).toBeLessThan(tolerance);
  return e;
}

/** Seeded normal tensor. */
export function rand(shape: number[], seed: number, mean = 0): tf.Tensor {
  return tf.randomNormal(shape, mean, 1, 'float32', seed);
}

/**
 * Counts how often the native kernels handed their inputs to the kernel registered before them
 * (kd's patched wasm kernel) while `fn` runs: 0 proves the native path computed everything.
 * `only`: count only these kernels.
 */
export function delegatedCalls(fn: () => void, only?: readonly string[]): number {
  let n = 0;
  const saved = new Map(state.previous);
  for (const [name, config] of saved) {
    if (only && !only.includes(name)) continue;
    state.previous.set(name, {
      ...config,
      kernelFunc: (args) => {
        n++;
        return config.kernelFunc(args);
      },
    });
  }
  try {
    fn();
  } finally {
    for (const [name, config] of saved) state.previous.set(name, config);
  }
  return n;
}
