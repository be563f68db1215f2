import * as tf from '@tensorflow/tfjs-core';
import type { LabeledData } from './batch';
import { firstNonFinite, gatherBatch } from './data';
import { DistillationError } from './errors';

/** A stable identifier of one example (kept by subsets and splits; what stores key by). */
export type ExampleId = number | string;

/** The examples a source returns for one read. The caller owns (and disposes) the tensors. */
export interface SourceBatch {
  /** Inputs `[batch, ...]`. */
  readonly x: tf.Tensor;
  /** Integer class labels `[batch]`. */
  readonly y: tf.Tensor1D;
  /** Each example's stable id, in batch order. */
  readonly ids: readonly ExampleId[];
  /** Teacher inputs `[batch, ...]` when teacher and student see different inputs. */
  readonly teacherX?: tf.Tensor;
}

/**
 * Where training examples come from, when they are not one tensor in memory: a folder of
 * images, a file read in pieces, a database. A source knows its size N up front, may give all N
 * integer labels (CRD's class-aware negatives, specialists' subsets), and returns the examples at
 * any positions of `[0, N)`: the Distiller draws a seeded permutation per epoch and reads batch
 * after batch, so runs reproduce and resume exactly. The position of an example is its `index`
 * in a batch (what memory banks address); its `id` is what stores and caches key by.
 *
 * In-memory tensors are one implementation ({@link tensorSource}); `fit({ x, y })` uses it.
 *
 * @example
 * ```ts
 * const source: DataSource = {
 *   kind: 'kd-source', size: rows.length, labels: Int32Array.from(rows, (r) => r.label),
 *   read: (positions) => ({
 *     x: tf.tensor2d(Array.from(positions, (p) => rows[p].features)),
 *     y: tf.tensor1d(Array.from(positions, (p) => rows[p].label), 'int32'),
 *     ids: Array.from(positions, (p) => rows[p].id),
 *   }),
 * };
 * await distiller.fit(source, { epochs: 10 });
 * ```
 */
export interface DataSource {
  readonly kind: 'kd-source';
  /** Number of examples N. */
  readonly size: number;
  /** The integer labels of all N examples, when the source knows them without reading the inputs. */
  readonly labels?: Int32Array;
  /** Shown in messages, e.g. `image folder "data/train"`. */
  readonly description?: string;
  /** The examples at `positions` (each in `[0, N)`), in that order. */
  read(positions: Int32Array): SourceBatch | Promise<SourceBatch>;
}

/** Whether `value` is a {@link DataSource} (rather than `{ x, y }` tensors). */
export function isDataSource(value: unknown): value is DataSource {
  return typeof value === 'object' && value !== null && (value as DataSource).kind === 'kd-source';
}

/**
 * In-memory tensors as a source: `read` gathers the rows; ids are the positions. The tensors stay
 * the caller's.
 */
export function tensorSource(data: LabeledData, description = 'in-memory tensors'): DataSource {
  const size = data.x.shape[0] ?? 0;
  return {
    kind: 'kd-source',
    size,
    description,
    read(positions) {
      const { index, ...batch } = gatherBatch(data, positions);
      index.dispose();
      return { ...batch, ids: Array.from(positions) };
    },
  };
}

/**
 * Checks a source before any work: a positive integer size, and labels (when given) an
 * `Int32Array` of N classes in `[0, numClasses)`. Returns the labels (or undefined).
 */
export function checkSource(source: DataSource, what: string, numClasses: number): Int32Array | undefined {
  const name = source.description ? `${what} (${source.description})` : what;
  if (!Number.isInteger(source.size) || source.size <= 0) {
    throw new DistillationError('bad-source', `${name}: size must be a positive integer, got ${source.size}`);
  }
  if (typeof source.read !== 'function') {
    throw new DistillationError('bad-source', `${name}: a source needs read(positions)`);
  }
  const labels = source.labels;
  if (labels === undefined) return undefined;
  if (!(labels instanceof Int32Array) || labels.length !== source.size) {
    throw new DistillationError(
      'bad-source',
      `${name}: labels must be an Int32Array of the ${source.size} examples, got ${labels instanceof Int32Array ? `${labels.length} labels` : typeof labels}`,
    );
  }
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]! < 0 || labels[i]! >= numClasses) {
      throw new DistillationError('label-out-of-range', `${name}: label ${i} = ${labels[i]} is not a class in [0, ${numClasses})`);
    }
  }
  return labels;
}

/**
 * Reads `positions` from a source and checks what came back before it is used: tensors of
 * `positions.length` examples with the expected example shape, integer labels in range, one id
 * per example and finite inputs. Throws naming the source, the positions and the ids; disposes
 * what it read when it throws.
 */
export async function readChecked(
  source: DataSource,
  positions: Int32Array,
  what: string,
  expect: { readonly numClasses: number; readonly exampleShape?: readonly (number | null)[] },
): Promise<SourceBatch> {
  const name = source.description ? `${what} (${source.description})` : what;
  const batch = await source.read(positions);
  try {
    const n = positions.length;
    if (!(batch?.x instanceof tf.Tensor) || !(batch.y instanceof tf.Tensor)) {
      throw new DistillationError('bad-source', `${name}: read() must return { x, y, ids } with tensors`);
    }
    if (batch.x.shape[0] !== n || batch.y.shape[0] !== n || batch.y.rank !== 1 || (batch.teacherX && batch.teacherX.shape[0] !== n)) {
      throw new DistillationError(
        'bad-source',
        `${name}: read() of ${n} positions returned x [${batch.x.shape}], y [${batch.y.shape}]${batch.teacherX ? `, teacherX [${batch.teacherX.shape}]` : ''}`,
      );
    }
    if (!Array.isArray(batch.ids) || batch.ids.length !== n) {
      throw new DistillationError(
        'bad-source',
        `${name}: read() of ${n} positions returned ${Array.isArray(batch.ids) ? batch.ids.length : 'no'} ids`,
      );
    }
    const expected = expect.exampleShape;
    if (expected) {
      const actual = batch.x.shape.slice(1);
      if (expected.length !== actual.length || expected.some((d, i) => d != null && d !== actual[i])) {
        throw new DistillationError(
          'bad-input-shape',
          `${name}: x has example shape [${actual}] but the student expects [${expected.map(String)}]`,
        );
      }
    }
    const labels = batch.y.dataSync();
    for (let i = 0; i < n; i++) {
      if (!Number.isInteger(labels[i]) || labels[i]! < 0 || labels[i]! >= expect.numClasses) {
        throw new DistillationError(
          'label-out-of-range',
          `${name}: example ${String(batch.ids[i])} (position ${positions[i]}) has label ${labels[i]}, not a class in [0, ${expect.numClasses})`,
        );
      }
    }
    for (const [field, tensor] of [
      ['x', batch.x],
      ['teacherX', batch.teacherX],
    ] as const) {
      const bad = firstNonFinite(tensor);
      if (bad >= 0) {
        throw new DistillationError(
          'non-finite-input',
          `${name}: ${field} of example ${String(batch.ids[bad])} (position ${positions[bad]}) holds NaN or Infinity; every input must be finite`,
        );
      }
    }
    return batch;
  } catch (error) {
    tf.dispose([batch?.x, batch?.y, batch?.teacherX].filter((t): t is tf.Tensor => t instanceof tf.Tensor));
    throw error;
  }
}
