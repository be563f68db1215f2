import type { SeededRandom } from './random';

/**
 * The order in which a seeded shuffle buffer of `bufferSize` examples emits the positions
 * `0..n-1` of a front-to-back stream (tf.data's `shuffle(bufferSize)`): fill the buffer with
 * the first `bufferSize` positions, then repeatedly emit a uniformly chosen slot and refill it
 * with the next position, until the stream and the buffer are empty.
 *
 * The order depends only on `n`, `bufferSize` and the random draws, never on the examples, so it
 * is known before reading (a checkpoint stores it; a resume replays it). What it does to
 * randomness: an example can move at most `bufferSize` places earlier than its stream position,
 * so with a buffer smaller than N, examples from the start of the stream tend to come early in
 * every epoch and a stream sorted by class gives batches of few classes. `bufferSize >= n` is a
 * uniform permutation (a different one than a random-access source's for the same seed).
 */
export function shuffleBufferOrder(n: number, bufferSize: number, random: SeededRandom): Int32Array {
  const order = new Int32Array(n);
  const buffer = new Int32Array(Math.min(bufferSize, n));
  let filled = 0;
  let next = 0;
  while (filled < buffer.length) buffer[filled++] = next++;
  for (let out = 0; out < n; out++) {
    const slot = random.int(filled);
    order[out] = buffer[slot]!;
    if (next < n) buffer[slot] = next++;
    else buffer[slot] = buffer[--filled]!;
  }
  return order;
}
