import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { coalesce, patchWasmKernels, unpatchWasmKernels } from '../src';
import { counts, expectFiniteDifferences, expectSameOnCpu, maxRelError, rand, runOn } from './helpers';

describe('UnsortedSegmentSum', () => {
  it('sums duplicate ids and matches cpu', () => {
    expectSameOnCpu(() => tf.unsortedSegmentSum(rand([6, 4], 1), tf.tensor1d([0, 2, 0, 1, 2, 2], 'int32'), 4));
  });

  it('works for int32 values and empty segments', () => {
    expectSameOnCpu(() => tf.unsortedSegmentSum(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32'), tf.tensor1d([3, 3, 0], 'int32'), 5));
  });

  it('drops ids outside [0, numSegments) (direct kernel call)', () => {
    const values = runOn(
      'wasm',
      () =>
        tf.engine().runKernel(
          'UnsortedSegmentSum',
          { x: tf.tensor1d([1, 2, 4, 8]), segmentIds: tf.tensor1d([0, -1, 5, 1], 'int32') },
          {
            numSegments: 2,
          },
        ) as tf.Tensor,
    );
    expect(Array.from(values[0]!)).toEqual([1, 8]);
  });

  it('gives gather its gradient (cpu and finite differences)', () => {
    const ids = () => tf.tensor1d([0, 2, 2, 1, 0], 'int32');
    expectSameOnCpu(() => tf.grad((x) => tf.gather(x, ids()))(rand([3, 4], 1)));
    expectSameOnCpu(() => tf.grad((x) => tf.gather(x, ids(), 1))(rand([2, 3, 2], 1)));
    expectFiniteDifferences((x) => tf.gather(x, ids()), [[3, 4]], 60);
  });
});

describe('Slice', () => {
  const cases: Array<[number[], number[], number[]]> = [
    [
      [50, 28, 28, 1],
      [7, 0, 0, 0],
      [5, -1, -1, -1],
    ], // a batch of images: one contiguous block
    [
      [50, 28, 28, 1],
      [0, 0, 0, 0],
      [1, 28, 28, 1],
    ], // one example, as the Distiller's probe
    [
      [6, 5],
      [1, 2],
      [4, 3],
    ], // runs of 3 along the last axis
    [
      [4, 6, 3],
      [1, 1, 0],
      [2, 4, 3],
    ], // runs of whole rows, several outer blocks
    [
      [3, 4, 5, 6, 2],
      [1, 0, 2, 1, 1],
      [2, 3, 2, 4, 1],
    ], // rank 5, runs of 1
    [[7], [2], [4]],
    [
      [5, 3],
      [2, 0],
      [0, 3],
    ], // empty
  ];
  it.each(cases)('x %j begin %j size %j matches cpu', (shape, begin, size) => {
    expectSameOnCpu(() => tf.slice(rand(shape, 5), begin, size), 1e-12);
    expectSameOnCpu(() => tf.slice(tf.cast(tf.mul(rand(shape, 6), 100), 'int32'), begin, size), 1e-12);
    expectSameOnCpu(() => tf.slice(tf.greater(rand(shape, 7), 0), begin, size), 1e-12);
  });

  it('slices strings (stock kernel)', () => {
    tf.setBackend('wasm');
    const before = counts();
    const strings = tf.tensor2d(['a', 'b', 'c', 'd', 'e', 'f'], [3, 2]);
    const part = tf.slice(strings, [1, 1], [2, 1]);
    expect(part.dataSync()).toEqual(['d', 'f']);
    tf.dispose([strings, part]);
    expect(counts()).toEqual(before);
  });

  it('gives its gradient (cpu and finite differences)', () => {
    expectSameOnCpu(() => tf.grad((x) => tf.slice(x, [1, 0, 1], [2, 3, 2]))(rand([4, 3, 5], 2)));
    expectFiniteDifferences((x) => tf.slice(x, [1, 1], [2, 2]), [[4, 3]], 60);
  });

  it('no longer copies the whole input out of the heap (readSync) per slice', () => {
    tf.setBackend('wasm');
    const x = rand([200, 784], 1);
    const backend = tf.engine().backend as unknown as { readSync: (...args: unknown[]) => unknown };
    const original = backend.readSync;
    let reads = 0;
    backend.readSync = function (this: unknown, ...args: unknown[]) {
      reads++;
      return original.apply(this, args);
    };
    try {
      tf.tidy(() => {
        tf.slice(x, [0, 0], [1, 784]);
        tf.slice(x, [10, 3], [20, 700]);
      });
    } finally {
      backend.readSync = original;
      x.dispose();
    }
    expect(reads).toBe(0);
  });
});

describe('GatherV2', () => {
  const cases: Array<[number[], number, number[]]> = [
    [[50, 28, 28, 1], 0, [3, 0, 49, 3, 17]], // image batch: block copies of 784 floats
    [[6, 5], 0, [5, 0, 2]], // slices of 5: element copies
    [[4, 6, 3], 1, [5, 0, 5]], // inner axis, several outer blocks
    [[7], 0, [6, 6, 1]],
    [[3, 40], 1, [39, 0, 2, 2]],
  ];
  it.each(cases)('x %j axis %j indices %j matches cpu', (shape, axis, idx) => {
    expectSameOnCpu(() => tf.gather(rand(shape, 3), tf.tensor1d(idx, 'int32'), axis), 1e-12);
    expectSameOnCpu(() => tf.gather(tf.cast(tf.mul(rand(shape, 4), 100), 'int32'), tf.tensor1d(idx, 'int32'), axis), 1e-12);
  });

  it('handles bool values, 2-D indices and an empty index list', () => {
    expectSameOnCpu(
      () =>
        tf.gather(
          tf.greater(rand([5, 3], 1), 0),
          tf.tensor2d(
            [
              [4, 0],
              [1, 1],
            ],
            [2, 2],
            'int32',
          ),
          0,
        ),
      1e-12,
    );
    expectSameOnCpu(() => tf.gather(rand([5, 3], 1), tf.tensor1d([], 'int32'), 1), 1e-12);
  });

  it('keeps batchDims (stock kernel) and matches cpu', () => {
    expectSameOnCpu(
      () =>
        tf.gather(
          rand([2, 4, 3], 1),
          tf.tensor2d(
            [
              [0, 3],
              [2, 2],
            ],
            [2, 2],
            'int32',
          ),
          1,
          1,
        ),
      1e-12,
    );
  });

  it('rejects an index out of range with the index, its position and the shape, leaking nothing', () => {
    const x = rand([4, 2], 1);
    const high = tf.tensor1d([1, 4], 'int32');
    const low = tf.tensor1d([-1], 'int32');
    const before = counts();
    expect(() => tf.gather(x, high)).toThrow('GatherV2: index 4 at position 1 is not in [0, 3] (axis 0 of x with shape [4,2])');
    expect(() => tf.gather(x, low)).toThrow('index -1');
    expect(counts()).toEqual(before);
    tf.dispose([x, high, low]);
  });
});

describe('Identity (tf.clone, tensors saved by a gradient tape)', () => {
  it('shares the buffer: no new data id, values live on after the original is disposed', () => {
    tf.setBackend('wasm');
    const x = tf.tensor2d([
      [1, -2],
      [3, 4.5],
    ]);
    const ids = tf.engine().backend.numDataIds();
    const y = tf.clone(x);
    expect(tf.engine().backend.numDataIds()).toBe(ids);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, -2, 3, 4.5]);
    y.dispose();
    expect(tf.engine().backend.numDataIds()).toBe(ids - 1);
  });

  it('keeps int32 and bool values and trains exactly like cpu through saved tensors', () => {
    expectSameOnCpu(() => [tf.clone(tf.tensor1d([7, -1], 'int32')), tf.clone(tf.tensor1d([1, 0], 'bool'))], 1e-12);
    expectSameOnCpu(() => tf.grad((x) => tf.sum(tf.mul(tf.exp(x), tf.square(x))))(rand([3, 4], 2)));
  });
});

describe('binary kernels above rank 6', () => {
  it('coalesces axes that broadcast alike', () => {
    expect(coalesce([2, 2, 3, 1, 2, 1, 2], [2, 2, 3, 1, 2, 1, 2])).toEqual({ a: [48], b: [48], out: [48] });
    expect(coalesce([2, 1, 3, 1, 2, 1, 2], [1, 2, 1, 2, 1, 3, 1])).toEqual({
      a: [2, 1, 3, 1, 2, 1, 2],
      b: [1, 2, 1, 2, 1, 3, 1],
      out: [2, 2, 3, 2, 2, 3, 2],
    });
    expect(coalesce([4, 1, 1, 5], [3, 1, 5])).toEqual({ a: [4, 1, 5], b: [1, 3, 5], out: [4, 3, 5] });
  });

  const ops: Record<string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor> = {
    add: tf.add,
    sub: tf.sub,
    mul: tf.mul,
    div: (a, b) => tf.div(a, tf.add(tf.abs(b), 1)),
    squaredDifference: tf.squaredDifference,
  };
  const shapes: Array<[number[], number[]]> = [
    [
      [2, 2, 3, 2, 2, 3, 2],
      [2, 2, 3, 2, 2, 3, 2],
    ],
    [
      [2, 1, 3, 1, 2, 1, 2],
      [1, 2, 1, 2, 1, 3, 1],
    ],
    [
      [2, 1, 2, 1, 2, 1, 2, 1],
      [1, 2, 1, 2, 1, 2, 1, 2],
    ],
    [[3, 1, 2, 2, 1, 1, 2], [2]],
  ];
  for (const [name, op] of Object.entries(ops)) {
    it.each(shapes)(`${name} %j with %j matches cpu`, (sa, sb) => {
      expectSameOnCpu(() => op(rand(sa, 1), rand(sb, 2)));
    });
  }

  it('int32 add of rank 7 matches cpu', () => {
    expectSameOnCpu(() =>
      tf.add(tf.cast(tf.mul(rand([2, 1, 3, 1, 2, 1, 2], 1), 10), 'int32'), tf.cast(tf.mul(rand([1, 2, 1, 2, 1, 3, 1], 2), 10), 'int32')),
    );
  });

  it('gradients of a rank-7 product match finite differences', () => {
    expectFiniteDifferences(
      (a, b) => tf.mul(a!, b!),
      [
        [2, 1, 3, 1, 2, 1, 2],
        [1, 2, 1, 2, 1, 3, 1],
      ],
      70,
    );
  });

  it('stock wasm is wrong at rank 7 (the bug this replaces)', () => {
    const f = () => tf.add(rand([2, 2, 3, 2, 2, 3, 2], 1), rand([2, 2, 3, 2, 2, 3, 2], 2));
    const cpu = runOn('cpu', f);
    unpatchWasmKernels();
    try {
      expect(maxRelError(cpu, runOn('wasm', f))).toBeGreaterThan(0.1);
    } finally {
      patchWasmKernels();
    }
  });
});
