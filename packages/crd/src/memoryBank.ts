import { DistillationError, optionsSchema, parseOptions } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { checkSavedTables, checkTableShape, createEmbeddingTables, embeddingInitScale } from './embeddingTables';
import { l2Normalize } from './embedHead';
import { CrdError } from './errors';
import { uniqueId } from './ids';
import { nameSchema, seedSchema } from './options';
import { copyOf, gatherRows } from './rows';

/** Options of {@link MemoryBank}. */
export interface MemoryBankOptions {
  /** Seed of the uniform initialisation (draw it from the run's `SeededRandom`). Default 0. */
  readonly seed?: number;
  /** Prefix of the tfjs variable names (made unique per process). Default `crd_bank`. */
  readonly name?: string;
}

/** Schema of {@link MemoryBankOptions} (defaults applied). */
export const memoryBankSchema = optionsSchema<MemoryBankOptions>()({
  seed: seedSchema.default(0),
  name: nameSchema.default('crd_bank'),
});

/** The two banks of a {@link MemoryBank} as tensors (for checkpoints and golden tests). */
export interface MemoryBankState {
  /** Student embeddings `[N, d]`. */
  readonly student: tf.Tensor2D;
  /** Teacher embeddings `[N, d]`. */
  readonly teacher: tf.Tensor2D;
}

/**
 * CRD's memory: one `[N, d]` float32 bank of student embeddings and one of teacher embeddings,
 * one row per training example (RepDistiller `ContrastMemory.memory_v1` / `memory_v2`).
 *
 * - Initialised uniform in `[-s, s]`, `s = 1/sqrt(d/3)`.
 * - {@link update} writes `row = l2norm(momentum*row + (1-momentum)*v)` at the positive indices,
 *   without gradient, by `tf.tensorScatterUpdate` + `Variable.assign`: the memory held stays
 *   exactly {@link bytes} = `2*N*d*4`, with no growth across steps (the `cpu` kernel scatters in
 *   place; backends that copy hold one extra bank transiently during the update).
 * - Rows are constants for the gradient tape (non-trainable variables).
 */
export class MemoryBank {
  /** Student-embedding bank `[N, d]` (non-trainable). */
  readonly student: tf.Variable<tf.Rank.R2>;
  /** Teacher-embedding bank `[N, d]` (non-trainable). */
  readonly teacher: tf.Variable<tf.Rank.R2>;

  /**
   * @param size N, the number of training examples.
   * @param dim d, the embedding size.
   */
  constructor(
    readonly size: number,
    readonly dim: number,
    options: MemoryBankOptions = {},
  ) {
    checkTableShape('MemoryBank', 'N', size, dim);
    const parsed = parseOptions(memoryBankSchema, options, 'MemoryBank');
    const tables = createEmbeddingTables(size, dim, parsed.seed, uniqueId(parsed.name));
    this.student = tables.student;
    this.teacher = tables.teacher;
  }

  /** Half-width of the uniform initialisation, `1/sqrt(d/3)`. */
  static initScale(dim: number): number {
    return embeddingInitScale(dim);
  }

  /** Bytes held by both banks: exactly `2 * N * d * 4`. */
  get bytes(): number {
    return 2 * this.size * this.dim * 4;
  }

  /**
   * Momentum update at the positive rows, no gradient:
   * `bank[i] = l2norm(momentum * bank[i] + (1 - momentum) * v)` for each `i` in `index`, for the
   * student bank with `student` and the teacher bank with `teacher` (`[B, d]` each). With repeated
   * indices in one batch the last row wins (as PyTorch's `index_copy_` on CPU). On the `cpu`
   * backend tfjs's scatter kernel writes into the bank's storage in place (no bank-sized copy).
   */
  update(index: tf.Tensor1D | Int32Array, student: tf.Tensor2D, teacher: tf.Tensor2D, momentum: number): void {
    if (!(Number.isFinite(momentum) && momentum >= 0 && momentum <= 1)) {
      throw new DistillationError('bad-option', `MemoryBank.update: momentum must be in [0, 1], got ${momentum}`);
    }
    const count = index instanceof Int32Array ? index.length : index.shape[0];
    for (const [what, v] of [
      ['student', student],
      ['teacher', teacher],
    ] as const) {
      if (v.rank !== 2 || v.shape[0] !== count || v.shape[1] !== this.dim) {
        throw new CrdError(
          'feature-dim-mismatch',
          `MemoryBank.update: ${what} embeddings must be [${count}, ${this.dim}], got [${v.shape}]`,
        );
      }
    }
    const ids = index instanceof Int32Array ? index : Int32Array.from(index.dataSync());
    this.checkIndices(ids);
    tf.tidy(() => {
      const rows = tf.tensor2d(ids, [ids.length, 1], 'int32');
      for (const [bank, v] of [
        [this.student, student],
        [this.teacher, teacher],
      ] as const) {
        const mixed = tf.add(tf.mul(gatherRows(bank, ids), momentum), tf.mul(v, 1 - momentum)) as tf.Tensor2D;
        bank.assign(tf.tensorScatterUpdate(bank, rows, l2Normalize(mixed)));
      }
    });
  }

  /** Throws `index-out-of-range` unless every index is an integer in `[0, N)`. */
  checkIndices(index: ArrayLike<number>): void {
    for (let i = 0; i < index.length; i++) {
      const v = index[i]!;
      if (!Number.isInteger(v) || v < 0 || v >= this.size) {
        throw new CrdError(
          'index-out-of-range',
          `CRD: sample index ${v} (batch position ${i}) is outside the memory bank [0, ${this.size}); ` +
            'the batch index must address the training data the bank was sized for',
        );
      }
    }
  }

  /** The banks themselves (not copies): read them, do not dispose them. */
  state(): MemoryBankState {
    return { student: this.student, teacher: this.teacher };
  }

  /** Throws `checkpoint-mismatch` unless `state` holds two `[N, d]` banks; changes nothing. */
  checkState(state: MemoryBankState, where = 'MemoryBank.loadState'): void {
    checkSavedTables(where, 'bank', this.size, this.dim, state);
  }

  /** Copies saved banks in (shapes are checked first). The caller keeps ownership of the inputs. */
  loadState(state: MemoryBankState): void {
    this.checkState(state);
    // Own storage: the cpu scatter kernel updates a bank in place, which must not reach the input.
    tf.tidy(() => {
      this.student.assign(copyOf(state.student));
      this.teacher.assign(copyOf(state.teacher));
    });
  }

  /** Frees both banks. */
  dispose(): void {
    this.student.dispose();
    this.teacher.dispose();
  }
}
