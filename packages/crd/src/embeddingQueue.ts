import { DistillationError, optionsSchema, parseOptions } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { checkSavedTables, checkTableShape, createEmbeddingTables } from './embeddingTables';
import { CrdError } from './errors';
import { uniqueId } from './ids';
import { nameSchema, seedSchema } from './options';
import { copyOf } from './rows';

/** Options of {@link EmbeddingQueue}. */
export interface EmbeddingQueueOptions {
  /** Seed of the uniform initialisation of the entries (draw it from the run's `SeededRandom`). Default 0. */
  readonly seed?: number;
  /** Prefix of the tfjs variable names (made unique per process). Default `crd_queue`. */
  readonly name?: string;
}

/** Schema of {@link EmbeddingQueueOptions} (defaults applied). */
export const embeddingQueueSchema = optionsSchema<EmbeddingQueueOptions>()({
  seed: seedSchema.default(0),
  name: nameSchema.default('crd_queue'),
});

/** An {@link EmbeddingQueue}'s contents, for checkpoints and golden tests. */
export interface EmbeddingQueueState {
  /** Student-side entries `[K, d]`. */
  readonly student: tf.Tensor2D;
  /** Teacher-side entries `[K, d]`. */
  readonly teacher: tf.Tensor2D;
  /** The training example each entry was computed from, `[K]`; -1 for an initial (random) entry. */
  readonly ids: ArrayLike<number>;
  /** The position the next enqueued row is written to (the oldest entry), in `[0, K)`. */
  readonly pointer: number;
}

/**
 * CRD's memory in queue mode (MoCo-style, He et al. 2020): two first-in-first-out queues of the
 * last K student-side and teacher-side embeddings, `[K, d]` float32 each, with the id of the
 * training example each entry came from. They replace the two `[N, d]` memory banks, so the memory
 * held is `2*K*d*4` bytes ({@link bytes}) whatever the data size N.
 *
 * - The K entries start as the banks do: uniform in `[-s, s]`, `s = 1/sqrt(d/3)`, with id -1 (no
 *   example); like the banks' untouched rows they serve as negatives until enqueued embeddings
 *   replace them, oldest first.
 * - {@link enqueue} writes the batch's embeddings at `pointer, pointer+1, ...` (wrapping modulo K),
 *   overwriting the oldest entries, and advances the pointer by the batch size; a batch larger
 *   than K leaves its last K rows. Entries are stored as given (no momentum, no renormalisation:
 *   the heads' outputs are already unit rows).
 * - Entries are constants for the gradient tape (non-trainable variables).
 */
export class EmbeddingQueue {
  /** Student-side entries `[K, d]` (non-trainable). */
  readonly student: tf.Variable<tf.Rank.R2>;
  /** Teacher-side entries `[K, d]` (non-trainable). */
  readonly teacher: tf.Variable<tf.Rank.R2>;
  /** Example id of each entry (-1: initial random entry). Read it; {@link enqueue} writes it. */
  readonly ids: Int32Array;
  private position = 0;

  /**
   * @param size K, the number of entries per side.
   * @param dim d, the embedding size.
   */
  constructor(
    readonly size: number,
    readonly dim: number,
    options: EmbeddingQueueOptions = {},
  ) {
    checkTableShape('EmbeddingQueue', 'K', size, dim);
    const parsed = parseOptions(embeddingQueueSchema, options, 'EmbeddingQueue');
    const name = uniqueId(parsed.name);
    this.ids = new Int32Array(size).fill(-1);
    const tables = createEmbeddingTables(size, dim, parsed.seed, name);
    this.student = tables.student;
    this.teacher = tables.teacher;
  }

  /** Bytes held by both queues' entries: exactly `2 * K * d * 4` (the ids add `4 * K` on the host). */
  get bytes(): number {
    return 2 * this.size * this.dim * 4;
  }

  /** The position the next enqueued row goes to (the oldest entry). */
  get pointer(): number {
    return this.position;
  }

  /** How many entries hold an example's embedding (the rest are still initial random entries). */
  get filled(): number {
    let count = 0;
    for (const id of this.ids) if (id >= 0) count++;
    return count;
  }

  /**
   * Enqueues one batch (no gradient): row `i` of `student` / `teacher` (`[B, d]` each) becomes the
   * entry at `(pointer + i) mod K` with id `index[i]`, replacing the oldest entries; the pointer
   * advances by B (mod K). When B > K only the last K rows are kept.
   */
  enqueue(index: Int32Array, student: tf.Tensor2D, teacher: tf.Tensor2D): void {
    const b = index.length;
    for (const [what, v] of [
      ['student', student],
      ['teacher', teacher],
    ] as const) {
      if (!(v instanceof tf.Tensor) || v.rank !== 2 || v.shape[0] !== b || v.shape[1] !== this.dim) {
        throw new CrdError(
          'feature-dim-mismatch',
          `EmbeddingQueue.enqueue: ${what} embeddings must be [${b}, ${this.dim}], got [${v instanceof tf.Tensor ? v.shape : typeof v}]`,
        );
      }
    }
    for (let i = 0; i < b; i++) {
      const id = index[i]!;
      if (!Number.isInteger(id) || id < 0) {
        throw new CrdError('index-out-of-range', `EmbeddingQueue.enqueue: example id ${id} (batch position ${i}) is not an index >= 0`);
      }
    }
    if (b === 0) return;
    const k = this.size;
    const kept = Math.min(b, k);
    const first = b - kept;
    const rows = new Int32Array(kept);
    for (let i = 0; i < kept; i++) {
      const at = (this.position + first + i) % k;
      rows[i] = at;
      this.ids[at] = index[first + i]!;
    }
    tf.tidy(() => {
      const at = tf.tensor2d(rows, [kept, 1], 'int32');
      for (const [queue, v] of [
        [this.student, student],
        [this.teacher, teacher],
      ] as const) {
        const tail = first === 0 ? v : tf.slice(v, [first, 0], [kept, this.dim]);
        queue.assign(tf.tensorScatterUpdate(queue, at, tail));
      }
    });
    this.position = (this.position + b) % k;
  }

  /** The entries (the live variables: read them, do not dispose them), a copy of the ids, and the pointer. */
  state(): EmbeddingQueueState {
    return { student: this.student, teacher: this.teacher, ids: Int32Array.from(this.ids), pointer: this.position };
  }

  /**
   * Restores saved contents (shapes, ids and pointer are checked first, `checkpoint-mismatch`).
   * `dataSize` (N), when given, bounds the ids to `[-1, N)`. The caller keeps ownership of the inputs.
   */
  loadState(state: EmbeddingQueueState, dataSize?: number): void {
    this.checkState(state, dataSize);
    // Own storage: the cpu scatter kernel updates an entry table in place, which must not reach the input.
    tf.tidy(() => {
      this.student.assign(copyOf(state.student));
      this.teacher.assign(copyOf(state.teacher));
    });
    this.ids.set(state.ids);
    this.position = state.pointer;
  }

  /**
   * Throws `checkpoint-mismatch` unless `state` could be loaded: two `[K, d]` tables, K ids in
   * `[-1, N)` (`dataSize`, when given) and a pointer in `[0, K)`. Changes nothing; `where` starts
   * the message.
   */
  checkState(state: EmbeddingQueueState, dataSize?: number, where = 'EmbeddingQueue.loadState'): void {
    checkSavedTables(where, 'queue', this.size, this.dim, state);
    const ids = state.ids;
    if (ids == null || typeof ids.length !== 'number' || ids.length !== this.size) {
      throw new DistillationError(
        'checkpoint-mismatch',
        `${where}: ids must hold ${this.size} example ids, got ${ids == null ? String(ids) : ids.length}`,
      );
    }
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!Number.isInteger(id) || id < -1 || (dataSize !== undefined && id >= dataSize)) {
        throw new DistillationError(
          'checkpoint-mismatch',
          `${where}: id ${id} of entry ${i} is not -1 or an example index${dataSize !== undefined ? ` in [0, ${dataSize})` : ''}`,
        );
      }
    }
    const pointer = state.pointer;
    if (!Number.isInteger(pointer) || pointer < 0 || pointer >= this.size) {
      throw new DistillationError('checkpoint-mismatch', `${where}: pointer must be an integer in [0, ${this.size}), got ${pointer}`);
    }
  }

  /** Frees both queues. */
  dispose(): void {
    this.student.dispose();
    this.teacher.dispose();
  }
}
