import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nativeStatus } from '../src';
import { state } from '../src/kernels/heap';
import { delegatedCalls, expectSameOnCpu, rand, runOn, skipReason } from './helpers';

type Pad = 'valid' | 'same' | number | [[0, 0], [number, number], [number, number], [0, 0]];
type Case = [x: number[], filter: number[], strides: number | [number, number], pad: Pad, dilations: number | [number, number]];

const explicit: Pad = [
  [0, 0],
  [1, 2],
  [0, 3],
  [0, 0],
];

/** Shape classes: 1x1 (plain sgemm), 3x3 / 5x5 / even filters, one or many channels, strides, padding, dilations. */
const forwardCases: Case[] = [];
for (const strides of [1, 2, [2, 1]] as Array<number | [number, number]>) {
  for (const pad of ['valid', 'same'] as const) {
    forwardCases.push([[2, 7, 7, 3], [3, 3, 3, 4], strides, pad, 1]);
    forwardCases.push([[1, 6, 5, 1], [2, 3, 1, 2], strides, pad, 1]);
  }
}
forwardCases.push(
  [[2, 5, 5, 8], [1, 1, 8, 6], 1, 'valid', 1], // pointwise: one sgemm, no im2col
  [[2, 5, 5, 8], [1, 1, 8, 6], 2, 'same', 1],
  [[1, 9, 9, 2], [3, 3, 2, 3], 1, 'same', 2], // dilation
  [[1, 11, 10, 2], [3, 2, 2, 3], 1, 'valid', [2, 3]],
  [[2, 6, 6, 2], [3, 3, 2, 3], 2, explicit, 1],
  [[1, 7, 7, 3], [3, 3, 3, 2], 2, 1, 1], // numeric padding
  [[1, 5, 5, 2], [5, 5, 2, 2], 1, 'valid', 1], // filter as large as the input
  [[3, 28, 28, 1], [3, 3, 1, 8], 1, 'same', 1], // the bench CNN's first layer
  [[2, 14, 14, 8], [3, 3, 8, 16], 1, 'same', 1], // and its second
  [[2, 2, 2, 3], [3, 3, 3, 2], 1, 'same', 1], // filter larger than the input
  [[8, 16, 16, 64], [3, 3, 64, 4], 1, 'same', 1], // many chunks of rows (forward 5, dx 5, dW 2)
);

describe.skipIf(skipReason !== undefined)(`native conv2d kernels${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  // The native path on every shape (also those that go to XNNPACK by default, see smallConvToWasm).
  beforeEach(() => {
    state.smallConvToWasm = false;
  });
  afterEach(() => {
    state.smallConvToWasm = true;
  });

  it('are registered', () => {
    expect(nativeStatus().kernels).toEqual(
      expect.arrayContaining(['Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter']),
    );
  });

  it.each(forwardCases)('Conv2D x %j filter %j strides %j pad %j dilations %j matches cpu', (xs, fs, strides, pad, dilations) => {
    const f = () => tf.conv2d(rand(xs, 1) as tf.Tensor4D, rand(fs, 2) as tf.Tensor4D, strides, pad, 'NHWC', dilations);
    expect(delegatedCalls(() => expectSameOnCpu(f))).toBe(0);
    // by default, forward convolutions with <= 8 output and <= 4 input channels go to XNNPACK
    state.smallConvToWasm = true;
    expect(delegatedCalls(() => expectSameOnCpu(f))).toBe(fs[3]! <= 8 && fs[2]! <= 4 ? 1 : 0);
  });

  const gradCases = forwardCases.filter(([, , , , d]) => d === 1);
  it.each(gradCases)(
    'Conv2DBackpropInput and Conv2DBackpropFilter (tf.grads of conv2d) x %j filter %j strides %j pad %j match cpu',
    (xs, fs, strides, pad) => {
      const f = () =>
        tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, strides, pad), 1.5)))([
          rand(xs, 1),
          rand(fs, 2),
        ]);
      // A weighted loss, so dy is not all ones:
      const g = () => {
        const x = rand(xs, 1) as tf.Tensor4D;
        const w = rand(fs, 2) as tf.Tensor4D;
        const y = tf.conv2d(x, w, strides, pad);
        const dy = rand(y.shape, 3) as tf.Tensor4D;
        const dx = tf.conv2dTranspose(
          dy,
          w,
          x.shape,
          strides,
          pad === 'same' || pad === 'valid' || typeof pad === 'number' ? pad : 'valid',
        );
        return typeof pad === 'object' ? [] : [dx];
      };
      expect(delegatedCalls(() => expectSameOnCpu(f))).toBe(0);
      expectSameOnCpu(g);
    },
  );

  it('Conv2DBackpropFilter and Conv2DBackpropInput by direct kernel calls, with dimRoundingMode', () => {
    for (const dimRoundingMode of ['floor', 'round', 'ceil'] as const) {
      const f = () => {
        const x = rand([2, 8, 9, 3], 1);
        const filterShape = [3, 3, 3, 4];
        const info = tf.backend_util.computeConv2DInfo([2, 8, 9, 3], [3, 3, 3, 4], 2, 1, 1, dimRoundingMode);
        const dy = rand([2, info.outHeight, info.outWidth, 4], 2);
        const attrs = { strides: [2, 2], pad: 1, dataFormat: 'NHWC', dimRoundingMode };
        const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape }) as tf.Tensor;
        const dx = tf
          .engine()
          .runKernel('Conv2DBackpropInput', { dy, filter: rand(filterShape, 3) }, { ...attrs, inputShape: [2, 8, 9, 3] }) as tf.Tensor;
        return [dw, dx];
      };
      expect(delegatedCalls(() => expectSameOnCpu(f))).toBe(0);
    }
  });

  const activations = ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu', 'prelu'] as const;
  it.each(activations)('FusedConv2D (tf.fused.conv2d, native path) with a bias and %s matches cpu', (activation) => {
    const f = () =>
      tf.fused.conv2d({
        x: rand([2, 7, 7, 3], 1) as tf.Tensor4D,
        filter: rand([3, 3, 3, 5], 2) as tf.Tensor4D,
        strides: 1,
        pad: 'same',
        bias: rand([5], 3),
        activation,
        leakyreluAlpha: 0.15,
        preluActivationWeights: activation === 'prelu' ? rand([5], 4, 0.3) : undefined,
      });
    expect(delegatedCalls(() => expectSameOnCpu(f))).toBe(0);
  });

  it('FusedConv2D over many chunks of rows (epilogue per chunk) with bias and prelu matches cpu', () => {
    const f = () =>
      tf.fused.conv2d({
        x: rand([8, 16, 16, 64], 1) as tf.Tensor4D,
        filter: rand([3, 3, 64, 32], 2) as tf.Tensor4D,
        strides: 1,
        pad: 'same',
        bias: rand([32], 3),
        activation: 'prelu',
        preluActivationWeights: rand([32], 4, 0.3),
      });
    expect(delegatedCalls(() => expectSameOnCpu(f))).toBe(0);
  });

  it('gradients of a fused conv (bias + relu, as tfjs-layers trains it) match cpu', () => {
    expectSameOnCpu(() =>
      tf.grads((x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
        tf.sum(
          tf.mul(
            tf.fused.conv2d({ x: x as tf.Tensor4D, filter: w as tf.Tensor4D, strides: 2, pad: 'same', bias: b, activation: 'relu' }),
            rand([2, 4, 4, 6], 9),
          ),
        ),
      )([rand([2, 8, 8, 3], 1), rand([3, 3, 3, 6], 2), rand([6], 3)]),
    );
  });

  it('NCHW goes to the patched wasm kernels and matches cpu', () => {
    const f = () => {
      const x = rand([2, 3, 7, 7], 1);
      const dy = rand([2, 4, 4, 4], 2);
      const dw = tf
        .engine()
        .runKernel(
          'Conv2DBackpropFilter',
          { x, dy },
          { strides: [2, 2], pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 3, 4] },
        ) as tf.Tensor;
      const dx = tf
        .engine()
        .runKernel(
          'Conv2DBackpropInput',
          { dy, filter: rand([3, 3, 3, 4], 3) },
          { strides: [2, 2], pad: 'same', dataFormat: 'NCHW', inputShape: [2, 3, 7, 7] },
        ) as tf.Tensor;
      return [dw, dx];
    };
    expect(delegatedCalls(() => expectSameOnCpu(f, 1e-4))).toBe(2);
  });

  it('an empty batch gives an empty output', () => {
    expectSameOnCpu(() => tf.conv2d(tf.zeros([0, 5, 5, 2]) as tf.Tensor4D, rand([3, 3, 2, 3], 1) as tf.Tensor4D, 1, 'same'));
  });

  it('one training step of the bench CNN (conv - pool - conv - pool - dense) gives the cpu loss and weights', async () => {
    state.smallConvToWasm = true; // the default
    const tfl = await import('@tensorflow/tfjs-layers');
    const step = () => {
      const he = (seed: number) => tfl.initializers.heNormal({ seed });
      const model = tfl.sequential({
        layers: [
          tfl.layers.conv2d({
            inputShape: [28, 28, 1],
            filters: 8,
            kernelSize: 3,
            padding: 'same',
            activation: 'relu',
            kernelInitializer: he(1),
          }),
          tfl.layers.maxPooling2d({ poolSize: 2 }),
          tfl.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: he(2) }),
          tfl.layers.maxPooling2d({ poolSize: 2 }),
          tfl.layers.flatten(),
          tfl.layers.dense({ units: 32, activation: 'relu', kernelInitializer: he(3) }),
          tfl.layers.dense({ units: 10, kernelInitializer: tfl.initializers.glorotUniform({ seed: 4 }) }),
        ],
      });
      const x = rand([16, 28, 28, 1], 5);
      const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5], 'int32'), 10);
      const opt = tf.train.sgd(0.05);
      const losses: tf.Tensor[] = [];
      for (let i = 0; i < 2; i++)
        losses.push(opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor) as tf.Scalar, true)!);
      const out = [...losses, ...model.getWeights().map((w) => w.clone())];
      model.dispose();
      opt.dispose();
      return out;
    };
    const cpu = runOn('cpu', step);
    let delegated = 0;
    const wasm = (() => {
      let r: ReturnType<typeof runOn> | undefined;
      delegated = delegatedCalls(() => {
        r = runOn('wasm', step);
      }, ['Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'BatchMatMul', '_FusedMatMul']);
      return r!;
    })();
    expect(delegated).toBe(2); // conv1's forward (8 filters, 1 channel) goes to XNNPACK, once per step
    cpu.values.forEach((v, i) => {
      const w = wasm.values[i]!;
      let worst = 0;
      for (let j = 0; j < v.length; j++) worst = Math.max(worst, Math.abs(v[j]! - w[j]!) / (1 + Math.abs(v[j]!)));
      expect(worst, `output ${i}`).toBeLessThan(1e-5);
    });
  });
});
