import * as tf from '@tensorflow/tfjs-core';
import { CrdError } from './errors';

/**
 * `table[indices]` for a `[N, d]` table whose rows are constants for the gradient (memory-bank rows).
 *
 * On the `cpu` backend the rows are copied on the host (`dataSync` returns the backing array
 * there without a copy), because its generic gather kernel converts every element's index
 * (about 1-2 M values/s); elsewhere `tf.gather`. The result carries no gradient to `table` either
 * way. Throws `index-out-of-range` for an index outside `[0, N)`.
 */
export function gatherRows(table: tf.Tensor2D, indices: Int32Array): tf.Tensor2D {
  const [n, d] = table.shape;
  for (let i = 0; i < indices.length; i++) {
    const v = indices[i]!;
    if (!(v >= 0 && v < n)) {
      throw new CrdError('index-out-of-range', `CRD scores: bank row ${v} (position ${i}) is outside the bank [0, ${n})`);
    }
  }
  if (tf.getBackend() !== 'cpu') {
    return tf.tidy(() => tf.gather(table, tf.tensor1d(indices, 'int32')) as tf.Tensor2D);
  }
  const src = table.dataSync() as Float32Array;
  const out = new Float32Array(indices.length * d);
  for (let i = 0; i < indices.length; i++) {
    const start = indices[i]! * d;
    out.set(src.subarray(start, start + d), i * d);
  }
  return tf.tensor2d(out, [indices.length, d], 'float32');
}

/** A copy with its own storage (`tf.clone` shares storage, and some cpu kernels write in place). */
export function copyOf<T extends tf.Tensor>(t: T): T {
  return tf.tidy(() => tf.add(tf.cast(t, 'float32'), tf.scalar(0, 'float32')) as T);
}
