import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { cifarBytes, expectOneEpochTrains, leakedTensors, cifarPixel as pixel } from '../test/helpers';
import { cifarBinary } from './cifar';
import { asSource } from './sources';

const PLANE = 1024;

describe('cifarBinary', () => {
  it('puts the R, G, B planes at their NHWC positions, scaled to [0, 1]', async () => {
    const source = cifarBinary(cifarBytes([[3], [9], [0]]), { variant: 'cifar10' });
    expect(source).toMatchObject({ kind: 'kd-source', size: 3, numClasses: 10 });
    expect(Array.from(source.labels)).toEqual([3, 9, 0]);
    expect(source.exampleShape).toEqual([32, 32, 3]);
    const leaked = await leakedTensors(async () => {
      const { x, y, ids } = await source.read(Int32Array.of(2, 0, 2));
      expect(x).toBeInstanceOf(Float32Array);
      expect(x.length).toBe(3 * 32 * 32 * 3);
      expect(y).toEqual(Int32Array.of(0, 3, 0));
      expect(ids).toEqual([2, 0, 2]);
      const data = x;
      for (const [b, k] of [
        [0, 2],
        [1, 0],
        [2, 2],
      ] as const) {
        for (const [h, w] of [
          [0, 0],
          [0, 1],
          [1, 0],
          [17, 5],
          [31, 31],
        ] as const) {
          for (let c = 0; c < 3; c++) {
            expect(data[((b * 32 + h) * 32 + w) * 3 + c]).toBeCloseTo(pixel(k, c, h, w) / 255, 6);
          }
        }
      }
      expect(Math.min(...x)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...x)).toBeLessThanOrEqual(1);
    });
    expect(leaked).toBe(0);
  });

  it('a single white-red record: channel 0 holds R everywhere', async () => {
    const bytes = new Uint8Array(1 + 3 * PLANE);
    bytes[0] = 1;
    bytes.fill(255, 1, 1 + PLANE); // R = 1, G = B = 0
    bytes[1 + PLANE + 32 + 2] = 51; // G at row 1, column 2 = 0.2
    const { x } = await cifarBinary(bytes, { variant: 'cifar10' }).read(Int32Array.of(0));
    const image = tf.tidy(() => tf.tensor4d(x, [1, 32, 32, 3]).arraySync());
    expect(image[0]![0]![0]).toEqual([1, 0, 0]);
    expect(image[0]![1]![2]![0]).toBe(1);
    expect(image[0]![1]![2]![1]).toBeCloseTo(0.2, 6);
    expect(image[0]![2]![1]).toEqual([1, 0, 0]);
  });

  it('CIFAR-100: fine labels by default, coarse on request; ids with a name', async () => {
    const bytes = cifarBytes([
      [19, 99],
      [0, 42],
      [7, 0],
    ]);
    const fine = cifarBinary(bytes, { variant: 'cifar100', name: 'train' });
    expect(fine.numClasses).toBe(100);
    expect(Array.from(fine.labels)).toEqual([99, 42, 0]);
    expect(fine.description).toBe('cifar100 fine train');
    const coarse = cifarBinary(bytes, { variant: 'cifar100', labels: 'coarse' });
    expect(coarse.numClasses).toBe(20);
    expect(Array.from(coarse.labels)).toEqual([19, 0, 7]);
    const a = await fine.read(Int32Array.of(1, 2));
    const b = await coarse.read(Int32Array.of(1, 2));
    expect(a.ids).toEqual(['train:1', 'train:2']);
    expect(b.ids).toEqual([1, 2]);
    expect(a.y).toEqual(Int32Array.of(42, 0));
    expect(b.y).toEqual(Int32Array.of(0, 7));
    expect(a.x).toEqual(b.x);
    expect(a.x[3]).toBeCloseTo(pixel(1, 0, 0, 1) / 255, 6); // pixels after both label bytes
  });

  it('trains one epoch with the Distiller, leaking nothing', async () => {
    const source = cifarBinary(cifarBytes(Array.from({ length: 10 }, (_, i) => [i % 10])), { variant: 'cifar10' });
    const student = tfl.sequential({
      layers: [
        tfl.layers.conv2d({
          inputShape: [32, 32, 3],
          filters: 2,
          kernelSize: 3,
          strides: 4,
          kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }),
        }),
        tfl.layers.flatten(),
        tfl.layers.dense({ units: 10, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
      ],
    });
    await expectOneEpochTrains(student, source);
    student.dispose();
  });

  it('asSource is core tensorSource: loaded tensors become a source', async () => {
    const data = { x: tf.tensor2d([[1], [2], [3]]), y: tf.tensor1d([0, 1, 0], 'int32') };
    const source = asSource(data, 'three rows');
    expect(source).toMatchObject({ kind: 'kd-source', size: 3, description: 'three rows' });
    const { x, y, ids } = await source.read(Int32Array.of(2, 1));
    expect(x).toEqual(Float32Array.of(3, 2));
    expect(y).toEqual(Int32Array.of(0, 1));
    expect(ids).toEqual([2, 1]);
    tf.dispose([data.x, data.y]);
  });
});
