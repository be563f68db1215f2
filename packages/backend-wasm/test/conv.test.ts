import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { convBackpropFilterIm2col, convBackpropFilterShifted, geometry2d } from '../src/kernels/conv';
import { KernelRunner, withRunner } from '../src/kernels/runner';
import {
  countKernelCalls,
  expectFiniteDifferences,
  expectSameNonFinite,
  expectSameOnCpu,
  maxRelError,
  rand,
  report,
  runOn,
} from './helpers';

type Pad = 'valid' | 'same' | [[0, 0], [number, number], [number, number], [0, 0]];

describe('conv2d gradients (Conv2DBackpropInput, Conv2DBackpropFilter)', () => {
  it('are registered by useWasmTraining', () => {
    const names = report.kernels.map((k) => k.kernel);
    expect(names).toContain('Conv2DBackpropFilter');
    expect(report.kernels.find((k) => k.kernel === 'Conv2DBackpropFilter')?.action).toBe('added');
    expect(report.kernels.find((k) => k.kernel === 'Conv2DBackpropInput')?.action).toBe('replaced');
  });

  const cases: Array<[number[], number[], number | [number, number], Pad]> = [];
  for (const stride of [1, 2, 3] as const) {
    for (const pad of ['valid', 'same'] as const) {
      cases.push([[2, 7, 7, 3], [3, 3, 3, 4], stride, pad]);
      cases.push([[1, 6, 5, 1], [2, 3, 1, 2], stride, pad]);
    }
  }
  cases.push([[2, 8, 9, 2], [3, 2, 2, 3], [2, 3], 'same']);
  cases.push([
    [2, 6, 6, 2],
    [3, 3, 2, 3],
    2,
    [
      [0, 0],
      [1, 2],
      [0, 3],
      [0, 0],
    ],
  ]);
  cases.push([[1, 5, 5, 2], [5, 5, 2, 2], 1, 'valid']);
  cases.push([[3, 4, 4, 5], [1, 1, 5, 6], 2, 'valid']);
  // 8+ input channels: dW by the transposed convolution instead of im2col.
  cases.push([[2, 6, 6, 9], [3, 3, 9, 3], 1, 'same']);
  cases.push([[2, 7, 7, 8], [3, 3, 8, 2], 2, 'valid']);

  it.each(cases)('x %j filter %j stride %j pad %j matches cpu', (xs, fs, strides, pad) => {
    expectSameOnCpu(() => tf.grads((x, f) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, strides, pad))([rand(xs, 1), rand(fs, 2)]));
  });

  it('matches cpu for NCHW (direct kernel calls)', () => {
    expectSameOnCpu(() => {
      const x = rand([2, 3, 7, 7], 1);
      const dy = rand([2, 4, 4, 4], 2);
      const dw = tf.engine().runKernel(
        'Conv2DBackpropFilter',
        { x, dy },
        {
          strides: [2, 2],
          pad: 'same',
          dataFormat: 'NCHW',
          filterShape: [3, 3, 3, 4],
        },
      ) as tf.Tensor;
      const dx = tf.engine().runKernel(
        'Conv2DBackpropInput',
        { dy, filter: rand([3, 3, 3, 4], 3) },
        {
          strides: [2, 2],
          pad: 'same',
          dataFormat: 'NCHW',
          inputShape: [2, 3, 7, 7],
        },
      ) as tf.Tensor;
      return [dw, dx];
    });
  });

  it('conv2dTranspose (Conv2DBackpropInput) matches cpu, with strides', () => {
    expectSameOnCpu(() =>
      tf.conv2dTranspose(rand([2, 4, 4, 4], 1) as tf.Tensor4D, rand([3, 3, 3, 4], 2) as tf.Tensor4D, [2, 8, 8, 3], 2, 'same'),
    );
    expectSameOnCpu(() =>
      tf.conv2dTranspose(rand([1, 3, 3, 2], 1) as tf.Tensor4D, rand([4, 4, 5, 2], 2) as tf.Tensor4D, [1, 8, 8, 5], 2, 'valid'),
    );
  });

  it('dW by im2col is the same when the columns are split into chunks of images', () => {
    const attrs = {
      strides: [2, 2] as [number, number],
      pad: 'same' as const,
      dataFormat: 'NHWC' as const,
      filterShape: [3, 3, 3, 4] as [number, number, number, number],
    };
    const cpu = runOn(
      'cpu',
      () => tf.engine().runKernel('Conv2DBackpropFilter', { x: rand([5, 6, 7, 3], 1), dy: rand([5, 3, 4, 4], 2) }, attrs) as tf.Tensor,
    );
    const g = geometry2d([5, 6, 7, 3], attrs.filterShape, attrs.strides, 1, 'same', undefined, false);
    const perImage = 27 * 3 * 4; // taps x output positions
    for (const images of [1, 2, 5]) {
      const chunked = runOn('wasm', () => {
        const [x, dy] = [rand([5, 6, 7, 3], 1), rand([5, 3, 4, 4], 2)];
        const info = withRunner(tf.backend(), (k) => convBackpropFilterIm2col(k, x, dy, g, images * perImage));
        return tf.engine().makeTensorFromTensorInfo(info);
      });
      expect(maxRelError(cpu, chunked), `${images} image(s) per chunk`).toBeLessThan(1e-5);
    }
  });

  // Stride 1 with >= 2 input channels: dW by the shifted grid (block copies + one XNNPACK matmul).
  // Tolerance 1e-4 relative, as above (sums over batch x positions in another order than cpu's).
  describe('dW on the shifted grid (stride 1, 2+ input channels)', () => {
    type Case = [number[], number[], Pad];
    const shiftedCases: Case[] = [
      [[3, 28, 28, 2], [3, 3, 2, 8], 'same'], // the CNN student's shapes, smaller batch
      [[3, 14, 14, 8], [3, 3, 8, 16], 'same'],
      [[2, 9, 7, 3], [3, 3, 3, 4], 'valid'],
      [[2, 9, 7, 3], [2, 4, 3, 2], 'same'], // even, non-square filter: padding after > before
      [[2, 6, 8, 4], [1, 1, 4, 5], 'valid'],
      [[1, 7, 7, 2], [5, 5, 2, 3], 'same'], // filter nearly as large as the input
      [
        [2, 5, 6, 3],
        [3, 2, 3, 2],
        [
          [0, 0],
          [2, 0],
          [1, 3],
          [0, 0],
        ],
      ], // explicit, uneven padding
      [
        [2, 8, 8, 2],
        [3, 3, 2, 2],
        [
          [0, 0],
          [0, 0],
          [0, 0],
          [0, 0],
        ],
      ],
    ];
    it.each(shiftedCases)('x %j filter %j pad %j: gradients match cpu', (xs, fs, pad) => {
      expectSameOnCpu(() => tf.grads((x, f) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, pad))([rand(xs, 1), rand(fs, 2)]));
    });

    it('is the path Conv2DBackpropFilter takes: one stock matmul, no Conv2D', () => {
      const calls = countKernelCalls(['Conv2D'], () => {
        const stock = countKernelCalls(
          ['BatchMatMul'],
          () =>
            runOn('wasm', () =>
              tf.grad((f) => tf.conv2d(rand([2, 9, 7, 3], 1) as tf.Tensor4D, f as tf.Tensor4D, 1, 'same'))(rand([3, 3, 3, 4], 2)),
            ),
          { stock: true },
        );
        expect(stock.BatchMatMul).toBe(1);
      });
      expect(calls.Conv2D).toBe(1); // the forward pass only
    });

    it('is the same when the grid is split into chunks of images', () => {
      const [xs, fs] = [
        [5, 6, 7, 3],
        [3, 3, 3, 4],
      ];
      const attrs = {
        strides: [1, 1] as [number, number],
        pad: 'same' as const,
        dataFormat: 'NHWC' as const,
        filterShape: fs as [number, number, number, number],
      };
      const dyShape = [5, 6, 7, 4];
      const cpu = runOn(
        'cpu',
        () => tf.engine().runKernel('Conv2DBackpropFilter', { x: rand(xs, 1), dy: rand(dyShape, 2) }, attrs) as tf.Tensor,
      );
      const g = geometry2d(xs, fs, 1, 1, 'same', undefined, false);
      const perImage = 9 * 3 * 8 * 9; // taps x channels x grid (8 x 9)
      for (const images of [1, 2, 5]) {
        const chunked = runOn('wasm', () => {
          const info = withRunner(tf.backend(), (k) => convBackpropFilterShifted(k, rand(xs, 1), rand(dyShape, 2), g, images * perImage)!);
          return tf.engine().makeTensorFromTensorInfo(info);
        });
        expect(maxRelError(cpu, chunked), `${images} image(s) per chunk`).toBeLessThan(1e-5);
      }
    });

    it('falls back to an exact path when x holds Inf or NaN (the grid would spread them to other taps)', () => {
      const x = () => {
        const values = rand([2, 6, 6, 3], 1).dataSync().slice();
        values[(6 + 5) * 3] = Number.POSITIVE_INFINITY; // image 0, row 1, last column
        values[(36 + 2 * 6) * 3 + 2] = Number.NaN; // image 1, row 2, first column
        return tf.tensor4d(values, [2, 6, 6, 3]);
      };
      const attrs = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 3, 2] };
      const grad = () => tf.engine().runKernel('Conv2DBackpropFilter', { x: x(), dy: rand([2, 6, 6, 2], 2) }, attrs as never) as tf.Tensor;
      const g = geometry2d([2, 6, 6, 3], [3, 3, 3, 2], 1, 1, 'same', undefined, false);
      expectSameNonFinite(runOn('cpu', grad), runOn('wasm', grad), 1e-4);
      runOn('wasm', () => {
        const k = new KernelRunner(tf.backend());
        try {
          expect(convBackpropFilterShifted(k, x(), rand([2, 6, 6, 2], 2), g)).toBeNull();
        } finally {
          k.dispose();
        }
        return [];
      });
    });
  });

  it('match finite differences', () => {
    expectFiniteDifferences(
      (x, f) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 2, 'same'),
      [
        [2, 7, 7, 3],
        [3, 3, 3, 4],
      ],
      10,
    );
    expectFiniteDifferences(
      (x, f) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'valid'),
      [
        [1, 6, 5, 2],
        [2, 3, 2, 2],
      ],
      20,
    );
  });
});

describe('depthwise conv2d gradients', () => {
  const cases: Array<[number[], number[], number, 'valid' | 'same']> = [];
  for (const stride of [1, 2]) {
    for (const pad of ['valid', 'same'] as const) {
      cases.push([[2, 7, 7, 3], [3, 3, 3, 1], stride, pad]);
      cases.push([[1, 6, 5, 2], [2, 3, 2, 3], stride, pad]);
    }
  }
  it.each(cases)('x %j filter %j stride %j pad %j matches cpu', (xs, fs, stride, pad) => {
    expectSameOnCpu(() =>
      tf.grads((x, f) => tf.depthwiseConv2d(x as tf.Tensor4D, f as tf.Tensor4D, stride, pad))([rand(xs, 1), rand(fs, 2)]),
    );
  });

  it('are right with dilation 2 (cpu ignores dilations: compared with an explicitly dilated filter)', () => {
    const d = 2;
    const dy = () => rand([2, 7, 7, 6], 1);
    const x = () => rand([2, 7, 7, 3], 3);
    const filter = () => rand([3, 3, 3, 2], 2);
    const dilated = (f: tf.Tensor) => {
      const [kh, kw, c, m] = f.shape as [number, number, number, number];
      const src = f.dataSync();
      const KW = (kw - 1) * d + 1;
      const out = new Float32Array(((kh - 1) * d + 1) * KW * c * m);
      for (let i = 0; i < kh; i++)
        for (let j = 0; j < kw; j++) for (let r = 0; r < c * m; r++) out[(i * d * KW + j * d) * c * m + r] = src[(i * kw + j) * c * m + r]!;
      return tf.tensor4d(out, [(kh - 1) * d + 1, KW, c, m]);
    };
    const run = (name: string, inputs: tf.NamedTensorMap, attrs: object) =>
      tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap) as tf.Tensor;
    const wasm = runOn('wasm', () => [
      run(
        'DepthwiseConv2dNativeBackpropInput',
        { dy: dy(), filter: filter() },
        { strides: [1, 1], dilations: [d, d], pad: 'same', inputShape: [2, 7, 7, 3] },
      ),
      run(
        'DepthwiseConv2dNativeBackpropFilter',
        { x: x(), dy: dy() },
        { strides: [1, 1], dilations: [d, d], pad: 'same', filterShape: [3, 3, 3, 2] },
      ),
    ]);
    const reference = runOn('cpu', () => [
      run(
        'DepthwiseConv2dNativeBackpropInput',
        { dy: dy(), filter: dilated(filter()) },
        { strides: [1, 1], dilations: [1, 1], pad: 'same', inputShape: [2, 7, 7, 3] },
      ),
      tf.stridedSlice(
        run(
          'DepthwiseConv2dNativeBackpropFilter',
          { x: x(), dy: dy() },
          { strides: [1, 1], dilations: [1, 1], pad: 'same', filterShape: [5, 5, 3, 2] },
        ),
        [0, 0, 0, 0],
        [5, 5, 3, 2],
        [d, d, 1, 1],
      ),
    ]);
    expect(maxRelError(reference, wasm)).toBeLessThan(1e-4);
  });

  it('match finite differences', () => {
    expectFiniteDifferences(
      (x, f) => tf.depthwiseConv2d(x as tf.Tensor4D, f as tf.Tensor4D, 2, 'same'),
      [
        [2, 7, 7, 3],
        [3, 3, 3, 2],
      ],
      30,
    );
  });
});

describe('conv3d gradients (stock wasm returns wrong values)', () => {
  const cases: Array<[number[], number[], number, 'valid' | 'same']> = [
    [[1, 4, 4, 4, 2], [2, 2, 2, 2, 3], 1, 'same'],
    [[1, 4, 5, 4, 1], [2, 2, 2, 1, 1], 1, 'valid'],
    [[2, 5, 5, 5, 2], [3, 3, 3, 2, 3], 2, 'valid'],
    [[1, 6, 5, 4, 2], [3, 2, 3, 2, 2], 2, 'same'],
  ];
  it.each(cases)('x %j filter %j stride %j pad %j matches cpu', (xs, fs, stride, pad) => {
    expectSameOnCpu(() => tf.grads((x, f) => tf.conv3d(x as tf.Tensor5D, f as tf.Tensor5D, stride, pad))([rand(xs, 1), rand(fs, 2)]));
  });

  it('match finite differences', () => {
    expectFiniteDifferences(
      (x, f) => tf.conv3d(x as tf.Tensor5D, f as tf.Tensor5D, 2, 'same'),
      [
        [1, 5, 5, 4, 2],
        [3, 3, 2, 2, 2],
      ],
      40,
    );
  });
});
