import * as tf from '@tensorflow/tfjs-core';
import type { LabeledData } from './batch';
import { DistillationError } from './errors';
import { tensorsFingerprint } from './fingerprints';

/** A stable identifier of one example (kept by subsets and splits; what stores key by). */
export type ExampleId = number | string;

/**
 * The examples a source returns for one read, as plain arrays: the Distiller makes the tensors
 * when the batch trains, so reads can run ahead of training (and in workers) without owning
 * tensors, and a source can never leak one. The arrays become the Distiller's: return fresh ones
 * for every read (a tensor may keep a reference to them), never a reused buffer.
 */
export interface SourceBatch {
  /** Inputs of the `n` examples, row-major: `n * prod(exampleShape)` values (images NHWC). */
  readonly x: Float32Array;
  /** The `n` integer class labels. */
  readonly y: Int32Array;
  /** Each example's stable id, in batch order. */
  readonly ids: readonly ExampleId[];
  /** Teacher inputs, `n * prod(teacherExampleShape)` values, when teacher and student see different inputs. */
  readonly teacherX?: Float32Array;
}

/** What every source declares up front, before anything is read. */
export interface SourceInfo {
  readonly kind: 'kd-source';
  /** Number of examples N. */
  readonly size: number;
  /** Shape of one example's input, without the batch dimension (e.g. `[32, 32, 3]`). */
  readonly exampleShape: readonly number[];
  /** Shape of one example's teacher input, when the source yields `teacherX`. */
  readonly teacherExampleShape?: readonly number[];
  /** The integer labels of all N examples, when the source knows them without reading the inputs. */
  readonly labels?: Int32Array;
  /** Shown in messages, e.g. `image folder "data/train"`. */
  readonly description?: string;
  /** The name of each class, by label, when the source knows them (an image folder's sub-folders). */
  readonly classNames?: readonly string[];
  /**
   * Hex content fingerprint of the examples (their ids, inputs and labels), without reading them
   * all when the source can tell otherwise (an image folder: its file list, sizes and mtimes).
   * Teacher-output stores key by it; a source without one cannot be cached in a store.
   */
  fingerprint?(): Promise<string>;
  /**
   * Releases what the source holds (decode workers, open files). The code that made the source
   * calls it when done with it; the Distiller never does (a source may serve several fits,
   * validation and evaluation).
   */
  close?(): void | Promise<void>;
}

/**
 * A source that reads the examples at any positions of `[0, N)`: the Distiller draws a seeded
 * permutation per epoch and reads batch after batch, ahead of training.
 */
export interface RandomAccessSource extends SourceInfo {
  /** The examples at `positions` (each in `[0, N)`, in that order; repeats allowed). */
  read(positions: Int32Array): SourceBatch | Promise<SourceBatch>;
}

/**
 * A source that can only be read front to back (a compressed file, a network stream). Every call
 * of `stream()` yields all N examples again, in the same order, in chunks of any size; an
 * example's position is its place in that order. The Distiller shuffles it through a seeded
 * buffer (`FitOptions.shuffleBuffer`).
 */
export interface SequentialSource extends SourceInfo {
  /** All N examples, front to back, in chunks (the same order on every call). */
  stream(): AsyncIterable<SourceBatch> | Iterable<SourceBatch>;
}

/**
 * Where training examples come from, when they are not one tensor in memory: a folder of
 * images, a file read in pieces, a database. A source declares its size N and example shape up
 * front, may give all N integer labels (CRD's class-aware negatives, specialists' subsets), and
 * returns plain arrays, either at any positions ({@link RandomAccessSource}) or front to back
 * ({@link SequentialSource}). The position of an example is its `index` in a batch (what memory
 * banks address); its `id` is what stores and caches key by.
 *
 * In-memory tensors are one implementation ({@link tensorSource}); `fit({ x, y })` uses it.
 *
 * @example
 * ```ts
 * const source: DataSource = {
 *   kind: 'kd-source', size: rows.length, exampleShape: [4],
 *   labels: Int32Array.from(rows, (r) => r.label),
 *   read: (positions) => ({
 *     x: Float32Array.from(Array.from(positions, (p) => rows[p].features).flat()),
 *     y: Int32Array.from(positions, (p) => rows[p].label),
 *     ids: Array.from(positions, (p) => rows[p].id),
 *   }),
 * };
 * await distiller.fit(source, { epochs: 10 });
 * ```
 */
export type DataSource = RandomAccessSource | SequentialSource;

/** Whether `value` is a {@link DataSource} (rather than `{ x, y }` tensors). */
export function isDataSource(value: unknown): value is DataSource {
  return typeof value === 'object' && value !== null && (value as DataSource).kind === 'kd-source';
}

/** Whether a source can be read at any positions (else it is read front to back). */
export function isRandomAccess(source: DataSource): source is RandomAccessSource {
  return typeof (source as RandomAccessSource).read === 'function';
}

/**
 * In-memory tensors as a source: `labels` are read once from `y` (integers, else `bad-data`),
 * `read` gathers the rows into arrays; ids are the positions. The tensors stay the caller's.
 */
export function tensorSource(data: LabeledData, description = 'in-memory tensors'): RandomAccessSource {
  if (!(data?.x instanceof tf.Tensor) || !(data.y instanceof tf.Tensor)) {
    throw new DistillationError('bad-data', `tensorSource: expected { x, y } tensors, got ${describe(data?.x)} and ${describe(data?.y)}`);
  }
  const size = data.x.shape[0] ?? 0;
  const values = data.y.dataSync();
  const bad = values.findIndex((v) => !Number.isInteger(v));
  if (data.y.rank !== 1 || values.length !== size || bad >= 0) {
    throw new DistillationError(
      'bad-data',
      `tensorSource (${description}): y must hold one integer label per example of x [${data.x.shape}], got y [${data.y.shape}]` +
        (bad >= 0 ? ` with y[${bad}] = ${values[bad]}` : ''),
    );
  }
  const labels = Int32Array.from(values);
  const rows = (t: tf.Tensor, positions: Int32Array) =>
    tf.tidy(() => tf.gather(t, tf.tensor1d(positions, 'int32')).dataSync()) as Float32Array | Int32Array;
  return {
    kind: 'kd-source',
    size,
    exampleShape: data.x.shape.slice(1),
    ...(data.teacherX ? { teacherExampleShape: data.teacherX.shape.slice(1) } : {}),
    labels,
    description,
    fingerprint: () => tensorsFingerprint([data.x, data.y, data.teacherX]),
    read(positions) {
      const x = rows(data.x, positions);
      const teacherX = data.teacherX && rows(data.teacherX, positions);
      return {
        x: x instanceof Float32Array ? x : Float32Array.from(x),
        y: Int32Array.from(positions, (p) => labels[p]!),
        ids: Array.from(positions),
        ...(teacherX ? { teacherX: teacherX instanceof Float32Array ? teacherX : Float32Array.from(teacherX) } : {}),
      };
    },
  };
}

const product = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** `what (description)` for messages. */
export function sourceName(source: DataSource, what: string): string {
  return source.description ? `${what} (${source.description})` : what;
}

function checkShape(shape: unknown, field: string, name: string): void {
  if (!Array.isArray(shape) || shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new DistillationError(
      'bad-source',
      `${name}: ${field} must be a non-empty list of positive integers, got ${JSON.stringify(shape)}`,
    );
  }
}

/**
 * Checks a source before any work: a positive integer size, a way to read (`read` or `stream`),
 * example shapes (against `expect.exampleShape`, the student's input, when given), and labels
 * (when given) an `Int32Array` of N classes in `[0, numClasses)`. Returns the labels (or undefined).
 */
export function checkSource(
  source: DataSource,
  what: string,
  numClasses: number,
  expect: { readonly exampleShape?: readonly (number | null)[] } = {},
): Int32Array | undefined {
  const name = sourceName(source, what);
  if (!Number.isInteger(source.size) || source.size <= 0) {
    throw new DistillationError('bad-source', `${name}: size must be a positive integer, got ${source.size}`);
  }
  const reads = typeof (source as RandomAccessSource).read === 'function';
  const streams = typeof (source as SequentialSource).stream === 'function';
  if (reads === streams) {
    throw new DistillationError(
      'bad-source',
      `${name}: a source needs exactly one of read(positions) (random access) or stream() (front to back), it has ${reads ? 'both' : 'neither'}`,
    );
  }
  for (const hook of ['fingerprint', 'close'] as const) {
    if (source[hook] !== undefined && typeof source[hook] !== 'function') {
      throw new DistillationError('bad-source', `${name}: ${hook} must be a function, got ${typeof source[hook]}`);
    }
  }
  checkShape(source.exampleShape, 'exampleShape', name);
  if (source.teacherExampleShape !== undefined) checkShape(source.teacherExampleShape, 'teacherExampleShape', name);
  const expected = expect.exampleShape;
  if (expected) {
    const actual = source.exampleShape;
    if (expected.length !== actual.length || expected.some((d, i) => d != null && d !== actual[i])) {
      throw new DistillationError(
        'bad-input-shape',
        `${name}: examples have shape [${actual}] but the student expects [${expected.map(String)}]`,
      );
    }
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
 * Checks what a read returned before it is used: arrays of `positions.length` examples of the
 * declared shapes (`teacherX` exactly when `teacherExampleShape` is declared), labels in range
 * and equal to the declared `labels`, one id per example (distinct for distinct positions) and
 * finite inputs. Throws naming the source, the positions and the ids.
 */
export function checkBatch(source: DataSource, batch: SourceBatch, positions: Int32Array, what: string, numClasses: number): SourceBatch {
  const name = sourceName(source, what);
  const n = positions.length;
  if (!(batch?.x instanceof Float32Array) || !(batch.y instanceof Int32Array)) {
    throw new DistillationError(
      'bad-source',
      `${name}: a read must return { x: Float32Array, y: Int32Array, ids }, got x ${describe(batch?.x)}, y ${describe(batch?.y)}`,
    );
  }
  const width = product(source.exampleShape);
  const teacherWidth = source.teacherExampleShape ? product(source.teacherExampleShape) : 0;
  // teacherX comes exactly when the source declares its shape.
  const badTeacher =
    batch.teacherX !== undefined
      ? !(batch.teacherX instanceof Float32Array) || !source.teacherExampleShape || batch.teacherX.length !== n * teacherWidth
      : source.teacherExampleShape !== undefined;
  if (batch.x.length !== n * width || batch.y.length !== n || badTeacher) {
    throw new DistillationError(
      'bad-source',
      `${name}: a read of ${n} examples of shape [${source.exampleShape}] returned ${batch.x.length} x values (expected ${n * width}) and ${batch.y.length} labels` +
        (batch.teacherX !== undefined
          ? source.teacherExampleShape
            ? `, ${describe(batch.teacherX)} teacherX (expected ${n * teacherWidth} values)`
            : ', and teacherX although the source declares no teacherExampleShape'
          : source.teacherExampleShape
            ? `, and no teacherX although the source declares teacherExampleShape [${source.teacherExampleShape}]`
            : ''),
    );
  }
  if (!Array.isArray(batch.ids) || batch.ids.length !== n) {
    throw new DistillationError(
      'bad-source',
      `${name}: a read of ${n} examples returned ${Array.isArray(batch.ids) ? batch.ids.length : 'no'} ids`,
    );
  }
  if (new Set(batch.ids).size < new Set(positions).size) {
    throw new DistillationError('bad-source', `${name}: a read of ${new Set(positions).size} distinct positions returned repeated ids`);
  }
  const declared = source.labels;
  for (let i = 0; i < n; i++) {
    const label = batch.y[i]!;
    if (label < 0 || label >= numClasses) {
      throw new DistillationError(
        'label-out-of-range',
        `${name}: example ${String(batch.ids[i])} (position ${positions[i]}) has label ${label}, not a class in [0, ${numClasses})`,
      );
    }
    if (declared && declared[positions[i]!] !== label) {
      throw new DistillationError(
        'bad-source',
        `${name}: example ${String(batch.ids[i])} (position ${positions[i]}) was read with label ${label}, but the source's labels say ${declared[positions[i]!]}`,
      );
    }
  }
  for (const [field, values, w] of [
    ['x', batch.x, width],
    ['teacherX', batch.teacherX, teacherWidth],
  ] as const) {
    if (!values) continue;
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) {
        const row = Math.floor(i / w);
        throw new DistillationError(
          'non-finite-input',
          `${name}: ${field} of example ${String(batch.ids[row])} (position ${positions[row]}) holds NaN or Infinity; every input must be finite`,
        );
      }
    }
  }
  return batch;
}

function describe(value: unknown): string {
  if (value === undefined || value === null) return String(value);
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as Float32Array).length})`;
  return value instanceof tf.Tensor ? 'a tensor (return plain arrays)' : typeof value;
}

/**
 * Reads `positions` from a random-access source and checks the result ({@link checkBatch}).
 */
export async function readChecked(
  source: RandomAccessSource,
  positions: Int32Array,
  what: string,
  numClasses: number,
): Promise<SourceBatch> {
  return checkBatch(source, await source.read(positions), positions, what, numClasses);
}

/** The tensors of a checked batch: `x [n, ...exampleShape]`, `y [n]` int32, `teacherX` when present. */
export function batchTensors(source: DataSource, batch: SourceBatch): { x: tf.Tensor; y: tf.Tensor1D; teacherX?: tf.Tensor } {
  const n = batch.y.length;
  return {
    x: tf.tensor(batch.x, [n, ...source.exampleShape], 'float32'),
    y: tf.tensor1d(batch.y, 'int32'),
    ...(batch.teacherX && source.teacherExampleShape
      ? { teacherX: tf.tensor(batch.teacherX, [n, ...source.teacherExampleShape], 'float32') }
      : {}),
  };
}
