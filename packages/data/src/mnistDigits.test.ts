import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { loadMnistDigits } from './mnistDigits';

describe('loadMnistDigits', () => {
  it('loads the npm package digits as [N, 28, 28, 1] images split per digit', async () => {
    await tf.setBackend('cpu');
    const before = tf.memory().numTensors;
    const { train, test } = loadMnistDigits();
    expect(train.x.shape).toEqual([8000, 28, 28, 1]);
    expect(test.x.shape).toEqual([2000, 28, 28, 1]);
    const counts = tf.tidy(() => Array.from(tf.bincount(train.y, tf.tensor1d([], 'float32'), 10).dataSync()));
    for (const c of counts) expect(c).toBeGreaterThan(600);
    const [min, max] = tf.tidy(() => [tf.min(train.x).dataSync()[0]!, tf.max(train.x).dataSync()[0]!]);
    expect([min, max]).toEqual([0, 1]);
    tf.dispose([train.x, train.y, test.x, test.y]);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => loadMnistDigits({ testFraction: 1 })).toThrow(/loadMnistDigits: option "testFraction"/);
  });
});
