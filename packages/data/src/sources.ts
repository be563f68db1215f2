import { type ExampleId, type RandomAccessSource, tensorSource } from '@kd/core';
import { DataError } from './errors';

/**
 * In-memory `{ x, y }` tensors as a `DataSource` (core's `tensorSource`): what `loadFashionMnist`,
 * `loadMnistDigits`, `idxToLabeledData(readIdx(...), ...)`, `subset` and `trainValidationSplit`
 * return can be passed to it. `read` gathers rows into arrays; ids are positions. The tensors stay the caller's.
 *
 * @example
 * ```ts
 * const { train } = loadMnistDigits();
 * await distiller.fit(asSource(train, 'MNIST digits'), { epochs: 1 });
 * ```
 */
export const asSource: typeof tensorSource = tensorSource;

/**
 * A {@link DataSource} of `@kd/data`'s readers: all N labels are known up front, and so is the
 * number of classes they are drawn from.
 */
export interface LabeledSource extends RandomAccessSource {
  /** The integer labels of all N examples, each in `[0, numClasses)`. */
  readonly labels: Int32Array;
  /** The number of classes the labels index. */
  readonly numClasses: number;
}

/** The ids of `positions`: the position itself, or `${prefix}:${position}` when a prefix is given. */
export function idsOf(positions: Int32Array, prefix: string | undefined): ExampleId[] {
  return prefix === undefined ? Array.from(positions) : Array.from(positions, (p) => `${prefix}:${p}`);
}

/** Throws `bad-indices` unless every position is an integer in `[0, size)`. */
export function checkPositions(positions: Int32Array, size: number, where: string): void {
  if (!(positions instanceof Int32Array)) {
    throw new DataError('bad-indices', `${where}: read() takes an Int32Array of positions, got ${String(positions)}`);
  }
  for (let i = 0; i < positions.length; i++) {
    const p = positions[i]!;
    if (p < 0 || p >= size) {
      throw new DataError('bad-indices', `${where}: position ${i} is ${p}, not an example position in [0, ${size})`);
    }
  }
}
