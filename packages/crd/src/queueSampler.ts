import type { SeededRandom } from '@kd/core';
import { CrdError } from './errors';

/** Contrast indices of one batch in queue mode: the batch's ids and the K queue entries its anchors are scored against. */
export interface QueueContrastIndices {
  readonly kind: 'queue';
  /** The examples' own indices `[B]` (their ids when enqueued). */
  readonly index: Int32Array;
  /**
   * `[K]` queue positions, one set shared by every anchor of the batch: position j is entry j,
   * unless entry j holds an example of the batch, in which case it is another entry (see
   * {@link queueNegatives}).
   */
  readonly negatives: Int32Array;
  /** How many entries held an example of the batch and were replaced. */
  readonly replaced: number;
}

/**
 * The negatives of one batch in queue mode: ALL K entries of the queue (MoCo's `l_neg` against
 * the whole queue), in queue order, except that an entry whose id is one of the batch's own
 * examples is never a negative of that batch: each such entry is replaced by an entry drawn
 * uniformly (with `random`, with replacement) from the entries that hold no example of the batch.
 * So every anchor is scored against exactly K negatives, none of them an example of its batch, and
 * the NCE noise constant stays `m Pn = K/N`.
 *
 * Entries with id -1 (the queue's initial random entries) are never replaced. Throws
 * `too-many-negatives` when every entry holds an example of the batch (possible only when the
 * queue is not larger than a batch), and `index-out-of-range` for a batch index outside
 * `[0, dataSize)` when `dataSize` is given.
 *
 * @param queueIds the id of each queue entry (`EmbeddingQueue.ids`), `[K]`.
 * @param index the batch's example indices `[B]`.
 * @param random the step's seeded random source (drawn from only when an entry is replaced).
 * @param dataSize N, to check the batch's indices against.
 */
export function queueNegatives(
  queueIds: Int32Array,
  index: ArrayLike<number>,
  random: SeededRandom,
  dataSize?: number,
): QueueContrastIndices {
  if (index == null) {
    throw new CrdError('missing-indices', 'CRD (queue) needs the sample index of every example (batch.index)');
  }
  const ids = new Int32Array(index.length);
  const batch = new Set<number>();
  for (let i = 0; i < index.length; i++) {
    const v = index[i]!;
    if (!Number.isInteger(v) || v < 0 || (dataSize !== undefined && v >= dataSize)) {
      throw new CrdError(
        'index-out-of-range',
        `CRD (queue): sample index ${v} (batch position ${i}) is outside [0, ${dataSize ?? 'N'}); ` +
          'the batch index must address the training data the queue was set up for',
      );
    }
    ids[i] = v;
    batch.add(v);
  }
  const k = queueIds.length;
  const negatives = new Int32Array(k);
  const allowed: number[] = [];
  const excluded: number[] = [];
  for (let j = 0; j < k; j++) {
    negatives[j] = j;
    if (batch.has(queueIds[j]!)) excluded.push(j);
    else allowed.push(j);
  }
  if (excluded.length > 0 && allowed.length === 0) {
    throw new CrdError(
      'too-many-negatives',
      `CRD (queue): all ${k} queue entries hold examples of the batch of ${ids.length}, none is left as a negative; use a queueSize larger than the batch`,
    );
  }
  for (const j of excluded) negatives[j] = allowed[random.int(allowed.length)]!;
  return { kind: 'queue', index: ids, negatives, replaced: excluded.length };
}
