import { DistillationError } from './errors';
import {
  checkBatch,
  checkSource,
  type DataSource,
  type ExampleId,
  isDataSource,
  isRandomAccess,
  type RandomAccessSource,
  type SequentialSource,
  type SourceBatch,
  type SourceInfo,
  sourceName,
} from './source';

/**
 * Some examples of another source, as a source of their own: example `i` of the subset is example
 * `positions[i]` of `source`. What resampling, splits and class subsets (a specialist's half/half
 * sample) build on without copying any data.
 *
 * - **Ids** are kept: the subset's example `i` has the id `source` gives position `positions[i]`,
 *   so caches and stores keyed by id find it. A position listed more than once (oversampling) is
 *   one example several times; as a source must give distinct examples distinct ids, its first
 *   occurrence keeps the id and the k-th repeat gets `` `${id}#${k}` `` (`'a'`, `'a#1'`, `'a#2'`).
 * - **Labels**: when `source` declares `labels`, the subset declares `labels[positions[i]]`.
 * - **Shapes** (`exampleShape`, `teacherExampleShape`) are the source's; `teacherX` is carried.
 * - **Reading**: over a random-access source the subset is random access: a read of subset
 *   positions reads the matching positions of `source` in one call. Over a front-to-back source
 *   the subset is front to back too: each `stream()` streams `source` once and keeps the listed
 *   positions (a chunk of the source gives a chunk of the subset, so memory stays at one chunk).
 *   That only works when the subset's order is the stream's, so `positions` must then be
 *   non-decreasing (repeats allowed): sort them, and let the Distiller's shuffle buffer do the
 *   shuffling. The stream stops early once the last listed position has passed.
 *
 * Everything is checked before anything is read: `source` ({@link checkSource}: `bad-source`),
 * `positions` (`bad-option`: not an array or `Int32Array`, empty, a position that is not an integer
 * in `[0, source.size)`, or out of order for a front-to-back source). What a read returns is
 * checked against `source` ({@link checkBatch}), so an error names the source's own positions and ids.
 *
 * @param source The source to take examples from (not modified, not copied).
 * @param positions Positions of `source`, in the subset's order; copied.
 * @param description Shown in messages. Default `` `${positions.length} examples of ${source's description}` ``.
 *
 * @example
 * ```ts
 * const train = subsetSource(source, Int32Array.from({ length: 800 }, (_, i) => i), 'first 800');
 * await distiller.fit(train, { epochs: 10 });
 * ```
 */
export function subsetSource(
  source: RandomAccessSource,
  positions: Int32Array | readonly number[],
  description?: string,
): RandomAccessSource;
export function subsetSource(source: SequentialSource, positions: Int32Array | readonly number[], description?: string): SequentialSource;
export function subsetSource(source: DataSource, positions: Int32Array | readonly number[], description?: string): DataSource;
export function subsetSource(source: DataSource, positions: Int32Array | readonly number[], description?: string): DataSource {
  if (!isDataSource(source)) {
    throw new DistillationError(
      'bad-source',
      `subsetSource: source must be a DataSource (an object with kind 'kd-source'), got ${source === null ? 'null' : typeof source}`,
    );
  }
  checkSource(source, 'subsetSource: source', Number.POSITIVE_INFINITY);
  if (description !== undefined && typeof description !== 'string') {
    throw new DistillationError('bad-option', `subsetSource: description must be a string, got ${typeof description}`);
  }
  const randomAccess = isRandomAccess(source);
  const picked = checkPositions(positions, source, randomAccess);
  const n = picked.length;
  const info: SourceInfo = {
    kind: 'kd-source',
    size: n,
    exampleShape: source.exampleShape,
    ...(source.teacherExampleShape ? { teacherExampleShape: source.teacherExampleShape } : {}),
    ...(source.labels ? { labels: Int32Array.from(picked, (p) => source.labels![p]!) } : {}),
    description: description ?? `${n} examples of ${source.description ?? 'a source'}`,
  };
  // How many times each subset position's example has appeared before it (0: keeps its id).
  const repeat = new Int32Array(n);
  const seen = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const before = seen.get(picked[i]!) ?? 0;
    repeat[i] = before;
    seen.set(picked[i]!, before + 1);
  }
  const idOf = (id: ExampleId, i: number): ExampleId => (repeat[i] === 0 ? id : `${String(id)}#${repeat[i]}`);

  if (randomAccess) {
    const subset: RandomAccessSource = {
      ...info,
      async read(subPositions: Int32Array): Promise<SourceBatch> {
        const what = `subsetSource (${info.description}): read`;
        if (!(subPositions instanceof Int32Array)) {
          throw new DistillationError('bad-option', `${what}: positions must be an Int32Array, got ${describeValue(subPositions)}`);
        }
        const parent = new Int32Array(subPositions.length);
        for (let i = 0; i < subPositions.length; i++) {
          const p = subPositions[i]!;
          if (p < 0 || p >= n) throw new DistillationError('bad-option', `${what}: position ${p} is not in [0, ${n})`);
          parent[i] = picked[p]!;
        }
        const batch = checkBatch(source, await source.read(parent), parent, 'source read by subsetSource', Number.POSITIVE_INFINITY);
        return { ...batch, ids: Array.from(subPositions, (p, i) => idOf(batch.ids[i]!, p)) };
      },
    };
    return subset;
  }

  const sequential = source;
  const subset: SequentialSource = {
    ...info,
    async *stream(): AsyncGenerator<SourceBatch> {
      const what = 'source streamed by subsetSource';
      const name = sourceName(sequential, what);
      const width = sequential.exampleShape.reduce((a, b) => a * b, 1);
      const teacherWidth = sequential.teacherExampleShape?.reduce((a, b) => a * b, 1) ?? 0;
      let position = 0; // the source's next stream position
      let next = 0; // the next subset position to yield
      for await (const raw of sequential.stream()) {
        const count = raw?.y instanceof Int32Array ? raw.y.length : 0;
        if (position + count > sequential.size) {
          throw new DistillationError(
            'bad-source',
            `${name}: stream() yields at least ${position + count} examples, but the source declares size ${sequential.size}`,
          );
        }
        const chunkPositions = Int32Array.from({ length: count }, (_, i) => position + i);
        const chunk = checkBatch(sequential, raw, chunkPositions, what, Number.POSITIVE_INFINITY);
        const start = next;
        while (next < n && picked[next]! < position + count) next++;
        const m = next - start;
        if (m > 0) {
          const x = new Float32Array(m * width);
          const y = new Int32Array(m);
          const teacherX = chunk.teacherX ? new Float32Array(m * teacherWidth) : undefined;
          const ids: ExampleId[] = [];
          for (let j = 0; j < m; j++) {
            const row = picked[start + j]! - position;
            x.set(chunk.x.subarray(row * width, (row + 1) * width), j * width);
            y[j] = chunk.y[row]!;
            if (teacherX) teacherX.set(chunk.teacherX!.subarray(row * teacherWidth, (row + 1) * teacherWidth), j * teacherWidth);
            ids.push(idOf(chunk.ids[row]!, start + j));
          }
          yield { x, y, ids, ...(teacherX ? { teacherX } : {}) };
        }
        position += count;
        if (next === n) return; // every listed position has passed: stop reading the source
      }
      throw new DistillationError(
        'bad-source',
        `${name}: stream() ended after ${position} examples, but the source declares size ${sequential.size} (the subset needs position ${picked[next]})`,
      );
    },
  };
  return subset;
}

/** The positions as an `Int32Array` copy, after checking them (`bad-option`). */
function checkPositions(positions: Int32Array | readonly number[], source: DataSource, randomAccess: boolean): Int32Array {
  const size = source.size;
  if (!(positions instanceof Int32Array) && !Array.isArray(positions)) {
    throw new DistillationError(
      'bad-option',
      `subsetSource: positions must be an Int32Array or an array of positions of the source, got ${describeValue(positions)}`,
    );
  }
  if (positions.length === 0) {
    throw new DistillationError('bad-option', 'subsetSource: positions is empty; a subset needs at least one example');
  }
  const out = new Int32Array(positions.length);
  for (let i = 0; i < positions.length; i++) {
    const p = positions[i] as unknown;
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p >= size) {
      throw new DistillationError(
        'bad-option',
        `subsetSource: positions[${i}] = ${String(p)} is not a position of ${sourceName(source, 'the source')}, an integer in [0, ${size})`,
      );
    }
    if (!randomAccess && i > 0 && p < out[i - 1]!) {
      throw new DistillationError(
        'bad-option',
        `subsetSource: positions[${i}] = ${p} comes after ${out[i - 1]}, but ${sourceName(source, 'the source')} is read front to back, ` +
          'so a subset of it must list positions in non-decreasing order (repeats allowed); sort them',
      );
    }
    out[i] = p;
  }
  return out;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  return typeof value;
}
