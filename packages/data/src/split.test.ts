import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { leakedTensors } from '../test/helpers';
import { subset, trainValidationSplit } from './split';

function data(n: number) {
  return {
    x: tf.tensor2d(
      Float32Array.from({ length: n * 2 }, (_, i) => i),
      [n, 2],
    ),
    y: tf.tensor1d(
      Int32Array.from({ length: n }, (_, i) => i),
      'int32',
    ),
  };
}

describe('subset / trainValidationSplit', () => {
  it('subset is seeded, without replacement, and keeps x and y paired', async () => {
    const d = data(50);
    const leaked = await leakedTensors(() => {
      const a = subset(d, 10, 3);
      const b = subset(d, 10, 3);
      const c = subset(d, 10, 4);
      const ya = Array.from(a.y.dataSync());
      expect(ya).toEqual(Array.from(b.y.dataSync()));
      expect(ya).not.toEqual(Array.from(c.y.dataSync()));
      expect(new Set(ya).size).toBe(10);
      const xa = a.x.arraySync() as number[][];
      ya.forEach((label, i) => expect(xa[i]).toEqual([2 * label, 2 * label + 1]));
      expect(a.y.dtype).toBe('int32');
      tf.dispose([a.x, a.y, b.x, b.y, c.x, c.y]);
    });
    expect(leaked).toBe(0);
    expect(() => subset(d, 51)).toThrow(/option "count" must be an integer in \[1, 50\]/);
    tf.dispose([d.x, d.y]);
  });

  it('trainValidationSplit partitions the examples', async () => {
    const d = data(40);
    const leaked = await leakedTensors(() => {
      const { train, validation } = trainValidationSplit(d, 0.25, 7);
      expect(validation.x.shape).toEqual([10, 2]);
      expect(train.x.shape).toEqual([30, 2]);
      const all = [...train.y.dataSync(), ...validation.y.dataSync()].sort((p, q) => p - q);
      expect(all).toEqual(Array.from({ length: 40 }, (_, i) => i));
      const again = trainValidationSplit(d, 0.25, 7);
      expect(Array.from(again.validation.y.dataSync())).toEqual(Array.from(validation.y.dataSync()));
      tf.dispose([train.x, train.y, validation.x, validation.y, again.train.x, again.train.y, again.validation.x, again.validation.y]);
    });
    expect(leaked).toBe(0);
    expect(() => trainValidationSplit(d, 1)).toThrow(/trainValidationSplit: option "fraction"/);
    expect(() => trainValidationSplit(d, 0.001)).toThrow(/both need at least one/);
    tf.dispose([d.x, d.y]);
  });
});
