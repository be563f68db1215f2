import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { nativeStatus } from '../src';
import { state } from '../src/kernels/heap';
import { counts, delegatedCalls, rand, skipReason } from './helpers';

type Inputs = Record<string, tf.Tensor>;
type Attrs = Record<string, number | string>;

/** Distance in float32 units in the last place (0: the same bits; NaN = NaN; -0 and +0 count as equal). */
function ulps(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) ? 0 : Number.POSITIVE_INFINITY;
  if (a === b) return 0;
  const bits = new Int32Array(new Float32Array([a, b]).buffer);
  // Map the sign-magnitude bit patterns onto one ordered integer line.
  const ordered = (i: number) => (bits[i]! < 0 ? -(bits[i]! & 0x7fffffff) : bits[i]!);
  return Math.abs(ordered(0) - ordered(1));
}

/**
 * The native kernel and the one registered before it (`@kd/backend-wasm`'s JavaScript loop) on the
 * same inputs: every output element within `maxUlps` float32 ulps (the two compute the same
 * double-precision operations; only the C library's and JavaScript's exp/log may round a double
 * differently), no delegation, no leaks. Returns how many elements differ at all.
 */
function expectClose(name: string, inputs: Inputs, attrs: Attrs, maxUlps = 1): number {
  const before = counts();
  let native: Float32Array[] = [];
  const delegated = delegatedCalls(() => {
    const out = [tf.engine().runKernel(name, inputs, attrs) as tf.Tensor | tf.Tensor[]].flat();
    native = out.map((t) => t.dataSync() as Float32Array);
    tf.dispose(out);
  });
  expect(delegated, `${name} delegated`).toBe(0);
  const config = state.previous.get(name)!;
  const reference = [config.kernelFunc({ inputs, backend: tf.backend(), attrs })]
    .flat()
    .map((info) => tf.engine().makeTensorFromTensorInfo(info));
  const wasm = reference.map((t) => t.dataSync() as Float32Array);
  tf.dispose(reference);
  expect(counts()).toEqual(before);
  expect(native.length).toBe(wasm.length);
  let differing = 0;
  native.forEach((values, j) => {
    expect(values.length).toBe(wasm[j]!.length);
    for (let i = 0; i < values.length; i++) {
      const d = ulps(values[i]!, wasm[j]![i]!);
      if (d > 0) differing++;
      expect(d, `${name} output ${j}[${i}]: native ${values[i]} vs wasm ${wasm[j]![i]}`).toBeLessThanOrEqual(maxUlps);
    }
  });
  return differing;
}

const shapes: [number, number][] = [
  [1, 1],
  [1, 10],
  [64, 10],
  [33, 7],
  [8, 1000],
];

describe.skipIf(skipReason !== undefined)(`native fused losses${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  it('are registered over the patched wasm kernels', () => {
    const names = ['KdLogSoftmax', 'KdSoftTargetLoss', 'KdSoftTargetLossGrad', 'KdHardLabelLoss', 'KdHardLabelLossGrad'];
    expect(nativeStatus().kernels).toEqual(expect.arrayContaining(names));
    for (const name of names) expect(state.previous.has(name), name).toBe(true);
  });

  /** Logits with a spread (scale) and a few extreme entries, seeded. */
  const logitsOf = (shape: [number, number], seed: number, scale: number) => tf.tidy(() => tf.mul(rand(shape, seed), scale));

  for (const shape of shapes) {
    for (const scale of [1, 30]) {
      it(`${JSON.stringify(shape)}, logits x${scale}: every loss kernel within 1 ulp of the wasm kernel`, () => {
        const [batch, classes] = shape;
        tf.tidy(() => {
          const logits = logitsOf(shape, 1, scale);
          const teacher = logitsOf(shape, 2, scale);
          const dy = tf.scalar(0.7);
          for (const temperature of [1, 4]) {
            const logP = tf.logSoftmax(tf.div(teacher, temperature));
            expectClose('KdLogSoftmax', { logits }, { temperature });
            for (const form of ['kl', 'cross-entropy']) expectClose('KdSoftTargetLoss', { logits, logP }, { temperature, form });
            expectClose('KdSoftTargetLossGrad', { logits, logP, dy }, { temperature });
          }
          const indices = tf.tensor1d(
            Array.from({ length: batch }, (_, b) => (b * 7) % classes),
            'int32',
          );
          const targets = tf.softmax(logitsOf(shape, 3, 2));
          for (const labels of [indices, tf.cast(indices, 'float32'), targets]) {
            expectClose('KdHardLabelLoss', { logits, labels }, {});
            expectClose('KdHardLabelLossGrad', { logits, labels, dy }, {});
          }
        });
      });
    }
  }

  it('non-finite logits: -Infinity entries and NaN rows as the wasm kernels (NaN wins the row maximum)', () => {
    tf.tidy(() => {
      const logits = tf.tensor2d([
        [1, Number.NEGATIVE_INFINITY, 3, 0.5],
        [Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY],
        [0.1, Number.NaN, 0.3, 0.2],
      ]);
      const logP = tf.logSoftmax(
        tf.tensor2d([
          [1, 2, 3, 4],
          [4, 3, 2, 1],
          [0, 0, 0, 0],
        ]),
      );
      const labels = tf.tensor1d([2, 0, 1], 'int32');
      const dy = tf.scalar(1);
      expectClose('KdLogSoftmax', { logits }, { temperature: 2 }, 0);
      expectClose('KdSoftTargetLoss', { logits, logP }, { temperature: 2, form: 'kl' }, 0);
      expectClose('KdSoftTargetLossGrad', { logits, logP, dy }, { temperature: 2 }, 0);
      expectClose('KdHardLabelLoss', { logits, labels }, {}, 0);
      expectClose('KdHardLabelLossGrad', { logits, labels, dy }, {}, 0);
    });
  });

  it('a [64, 10] batch at T = 4 (the step bench): at most a few elements differ, by 1 ulp', () => {
    let differing = 0;
    let total = 0;
    tf.tidy(() => {
      for (let seed = 1; seed <= 20; seed++) {
        const logits = logitsOf([64, 10], seed, 3);
        const logP = tf.logSoftmax(tf.div(logitsOf([64, 10], seed + 100, 3), 4));
        differing += expectClose('KdSoftTargetLossGrad', { logits, logP, dy: tf.scalar(0.9) }, { temperature: 4 });
        differing += expectClose('KdLogSoftmax', { logits }, { temperature: 4 });
        total += 2 * 640;
      }
    });
    expect(differing / total).toBeLessThan(0.01);
  });

  it('labels the native kernel does not take (int32 targets [batch, classes]) go to the wasm kernel', () => {
    tf.tidy(() => {
      const logits = rand([4, 3], 5);
      const labels = tf.tensor2d(
        [
          [0, 1, 0],
          [1, 0, 0],
          [0, 0, 1],
          [0, 1, 0],
        ],
        [4, 3],
        'int32',
      );
      const delegated = delegatedCalls(() => {
        tf.dispose(tf.engine().runKernel('KdHardLabelLoss', { logits, labels }, {}) as tf.Tensor);
      }, ['KdHardLabelLoss']);
      expect(delegated).toBe(1);
    });
  });
});
