import { DistillationError } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';

/** Half-width of the uniform initialisation of embedding rows, `1/sqrt(d/3)`. */
export function embeddingInitScale(dim: number): number {
  return 1 / Math.sqrt(dim / 3);
}

/**
 * Refuses a table size or embedding size that is not a positive integer (`bad-option`, naming
 * `owner` and the size's letter, e.g. `MemoryBank: size N ...`).
 */
export function checkTableShape(owner: string, sizeLetter: string, size: number, dim: number): void {
  if (!Number.isInteger(size) || size <= 0) {
    throw new DistillationError('bad-option', `${owner}: size ${sizeLetter} must be a positive integer, got ${size}`);
  }
  if (!Number.isInteger(dim) || dim <= 0) {
    throw new DistillationError('bad-option', `${owner}: dim must be a positive integer, got ${dim}`);
  }
}

/**
 * A student and a teacher table `[size, dim]` of non-trainable variables (`${name}/student`,
 * `${name}/teacher`), uniform in `±`{@link embeddingInitScale}, seeded `seed` and `seed + 1`.
 */
export function createEmbeddingTables(
  size: number,
  dim: number,
  seed: number,
  name: string,
): { readonly student: tf.Variable<tf.Rank.R2>; readonly teacher: tf.Variable<tf.Rank.R2> } {
  const s = embeddingInitScale(dim);
  const student = tf.tidy(() =>
    tf.variable(tf.randomUniform([size, dim], -s, s, 'float32', seed), false, `${name}/student`),
  ) as tf.Variable<tf.Rank.R2>;
  const teacher = tf.tidy(() =>
    tf.variable(tf.randomUniform([size, dim], -s, s, 'float32', seed + 1), false, `${name}/teacher`),
  ) as tf.Variable<tf.Rank.R2>;
  return { student, teacher };
}

/**
 * Refuses saved student and teacher tables that are not tensors `[size, dim]`
 * (`checkpoint-mismatch`, e.g. `MemoryBank.loadState: student bank must be [N, d], got [...]`).
 */
export function checkSavedTables(
  where: string,
  noun: string,
  size: number,
  dim: number,
  state: { readonly student: unknown; readonly teacher: unknown },
): void {
  for (const [what, t] of [
    ['student', state.student],
    ['teacher', state.teacher],
  ] as const) {
    if (!(t instanceof tf.Tensor) || t.rank !== 2 || t.shape[0] !== size || t.shape[1] !== dim) {
      throw new DistillationError(
        'checkpoint-mismatch',
        `${where}: ${what} ${noun} must be [${size}, ${dim}], got [${t instanceof tf.Tensor ? t.shape : typeof t}]`,
      );
    }
  }
}
