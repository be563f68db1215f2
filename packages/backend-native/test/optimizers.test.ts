import { adam, adamW, rmsprop, sgd } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { nativeStatus } from '../src';
import { state } from '../src/kernels/heap';
import { counts, delegatedCalls, rand, report, skipReason } from './helpers';

type Inputs = Record<string, tf.Tensor>;

/** The kernel registered before the native one (`@kd/backend-wasm`'s JavaScript loop), run directly. */
function runPrevious(name: string, inputs: Inputs, attrs: Record<string, number | boolean>): tf.Tensor[] {
  const config = state.previous.get(name)!;
  const out = config.kernelFunc({ inputs, backend: tf.backend(), attrs });
  return [out].flat().map((info) => tf.engine().makeTensorFromTensorInfo(info));
}

function runNative(name: string, inputs: Inputs, attrs: Record<string, number | boolean>): tf.Tensor[] {
  return tf.engine().runKernel(name, inputs, attrs) as tf.Tensor[];
}

/** Both paths on the same inputs: the same bits (float32 operations in the same order), no leaks. */
function expectSameBits(name: string, inputs: Inputs, attrs: Record<string, number | boolean>): void {
  const before = counts();
  let native: Float32Array[] = [];
  const delegated = delegatedCalls(() => {
    const out = runNative(name, inputs, attrs);
    native = out.map((t) => t.dataSync() as Float32Array);
    tf.dispose(out);
  });
  expect(delegated).toBe(0);
  const reference = runPrevious(name, inputs, attrs);
  const wasm = reference.map((t) => t.dataSync() as Float32Array);
  tf.dispose(reference);
  expect(counts()).toEqual(before);
  expect(native.length).toBe(wasm.length);
  native.forEach((values, j) => {
    expect(values.length).toBe(wasm[j]!.length);
    expect(
      Buffer.from(values.buffer, values.byteOffset, values.byteLength).equals(
        Buffer.from(wasm[j]!.buffer, wasm[j]!.byteOffset, wasm[j]!.byteLength),
      ),
      `output ${j}`,
    ).toBe(true);
  });
}

const sizes: number[][] = [[1], [7], [33, 31], [784, 64]];

describe.skipIf(skipReason !== undefined)(`native optimizer updates${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  it('are registered over the patched wasm kernels', () => {
    expect(report.active).toBe(true);
    expect(nativeStatus().kernels).toEqual(expect.arrayContaining(['KdAdamUpdate', 'KdSgdUpdate', 'KdRmspropUpdate']));
    expect(report.kernels.find((k) => k.kernel === 'KdAdamUpdate')?.action).toBe('replaced');
  });

  it.each(sizes.flatMap((shape) => [1, 0.9995].map((decay) => [shape, decay] as const)))(
    'KdAdamUpdate %j decay %f: the bits of the wasm kernel',
    (shape, decay) => {
      tf.tidy(() => {
        const inputs = { variable: rand(shape, 1), gradient: rand(shape, 2), m: rand(shape, 3), v: tf.abs(rand(shape, 4)) };
        expectSameBits('KdAdamUpdate', inputs, { beta1: 0.9, beta2: 0.999, epsilon: 1e-7, stepSize: 1e-3, correction: 0.31622776, decay });
      });
    },
  );

  const sgdCases = sizes.flatMap((shape) =>
    [
      { momentum: 0, nesterov: false, weightDecay: 0 },
      { momentum: 0, nesterov: false, weightDecay: 5e-4 },
      { momentum: 0.9, nesterov: false, weightDecay: 0 },
      { momentum: 0.9, nesterov: true, weightDecay: 1e-4 },
    ].map((o) => [shape, o] as const),
  );
  it.each(sgdCases)('KdSgdUpdate %j %j: the bits of the wasm kernel', (shape, o) => {
    tf.tidy(() => {
      const inputs: Inputs = { variable: rand(shape, 5), gradient: rand(shape, 6) };
      if (o.momentum > 0) inputs.buffer = rand(shape, 7);
      expectSameBits('KdSgdUpdate', inputs, { learningRate: 0.05, ...o });
    });
  });

  const rmspropCases = sizes.flatMap((shape) =>
    [
      { momentum: 0, weightDecay: 0 },
      { momentum: 0.9, weightDecay: 1e-4 },
    ].map((o) => [shape, o] as const),
  );
  it.each(rmspropCases)('KdRmspropUpdate %j %j: the bits of the wasm kernel', (shape, o) => {
    tf.tidy(() => {
      const inputs: Inputs = { variable: rand(shape, 8), gradient: rand(shape, 9), square: tf.abs(rand(shape, 10)) };
      if (o.momentum > 0) inputs.buffer = rand(shape, 11);
      expectSameBits('KdRmspropUpdate', inputs, { learningRate: 1e-3, rho: 0.9, epsilon: 1e-7, ...o });
    });
  });

  it("kd's optimizers train to the same bits with and without the native updates (20 steps)", () => {
    const train = (make: () => tf.Optimizer, native: boolean): Float32Array => {
      const saved = new Map<string, tf.KernelConfig>();
      if (!native) {
        for (const name of ['KdAdamUpdate', 'KdSgdUpdate', 'KdRmspropUpdate']) {
          saved.set(name, tf.getKernel(name, 'wasm')!);
          tf.unregisterKernel(name, 'wasm');
          tf.registerKernel(state.previous.get(name)!);
        }
      }
      try {
        const initial = rand([40, 30], 12);
        const w = tf.variable(initial);
        initial.dispose();
        const x = rand([16, 40], 13);
        const optimizer = make();
        for (let s = 0; s < 20; s++) optimizer.minimize(() => tf.mean(tf.square(tf.matMul(x, w))) as tf.Scalar);
        const out = w.dataSync() as Float32Array;
        optimizer.dispose();
        w.dispose();
        x.dispose();
        return out;
      } finally {
        for (const [name, config] of saved) {
          tf.unregisterKernel(name, 'wasm');
          tf.registerKernel(config);
        }
      }
    };
    for (const make of [
      () => adam({ learningRate: 0.01 }),
      () => adamW({ learningRate: 0.01, weightDecay: 0.01 }),
      () => sgd({ learningRate: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-3 }),
      () => rmsprop({ learningRate: 0.01, momentum: 0.5 }),
    ]) {
      const before = tf.memory().numTensors;
      expect(Array.from(train(make, true))).toEqual(Array.from(train(make, false)));
      expect(tf.memory().numTensors).toBe(before);
    }
  });
});
