import type * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { sha256Digest } from '../digest';
import { DistillationError } from '../errors';
import { optionsSchema, parseOptions } from '../options';
import type { TeacherPrediction } from '../plugin';
import type { ExampleId } from '../source';
import { type Teacher, type TeacherBatch, type TeacherLike, type TeacherRun, toTeacher } from '../teacher';
import { ensembleDetail, predictionTensors } from '../teacherOutputs';
import { OutputTable } from './outputTable';
import { type TeacherCacheStore, teacherCacheStoreSchema } from './stores';

/** Options of {@link cachedTeacher}. */
export interface CachedTeacherOptions {
  /**
   * Where complete outputs are also kept and looked up, beyond this teacher's life (see
   * {@link TeacherCacheStore}). Needs content fingerprints of the teacher and the data.
   */
  readonly store?: TeacherCacheStore;
  /** Largest table in bytes; a larger one is not kept (`stats().reason` says so). Default 1 GiB. */
  readonly maxBytes?: number;
  /**
   * The teacher's content fingerprint, for teachers that have none of their own (functions,
   * GraphModels): change it whenever the teacher changes. LayersModel teachers and ensembles of
   * them are fingerprinted from their architecture and weights.
   */
  readonly fingerprint?: string;
}

/** Counters of a {@link CachedTeacher} (also `Distiller.teacherCacheStats()`). */
export interface TeacherCacheStats {
  /** Whether the cache may serve steps (false when disabled, e.g. too large). */
  readonly active: boolean;
  /** Why the cache is inactive, when it is. */
  readonly reason?: string;
  /** Examples served from the cache. */
  readonly hits: number;
  /** Examples the teacher computed and the cache stored. */
  readonly misses: number;
  /** Examples the teacher computed without the cache (a transformed step, or an inactive cache). */
  readonly bypassed: number;
  /** Times the cache was emptied because the teacher, the data or the taps changed. */
  readonly invalidations: number;
  /** Examples held / examples in the data. */
  readonly filled: number;
  readonly size: number;
  /** Bytes held (allocated for all examples once the first step has run). */
  readonly bytes: number;
  /** Examples loaded from the {@link TeacherCacheStore} instead of computed. */
  readonly restored: number;
  /** Complete records written to the store. */
  readonly saved: number;
}

/**
 * A teacher that keeps the outputs of the teacher it wraps, per example id, across epochs and
 * fits: see {@link cachedTeacher}.
 */
export interface CachedTeacher extends Teacher {
  /** The teacher whose outputs are kept. */
  readonly teacher: Teacher;
  /** Counters and size of the cache. */
  stats(): TeacherCacheStats;
  /** Drops every kept output (the next epoch recomputes them). */
  clear(): void;
}

const CACHED = Symbol.for('@kd/cached-teacher');

/** Whether `value` was made by {@link cachedTeacher} (or is the Distiller's default cache). */
export function isCachedTeacher(value: unknown): value is CachedTeacher {
  return typeof value === 'object' && value !== null && CACHED in value;
}

let nextIdentity = 1;
const identities = new WeakMap<object, number>();
function identityOf(value: object): number {
  let id = identities.get(value);
  if (id === undefined) {
    id = nextIdentity++;
    identities.set(value, id);
  }
  return id;
}

/**
 * Wraps a teacher so that its outputs (logits, tapped layers, an ensemble's members) are computed
 * once per training example and served from memory afterwards, keyed by example id. Inside a
 * Distiller's `fit` it serves a step from the table only when the step's teacher input is the
 * example as read (`TeacherBatch.transformed` false) and every id of the batch is held; otherwise
 * the wrapped teacher runs on the batch as it would without a cache, so a cache never changes a
 * result, only saves work. The wrapped teacher is assumed deterministic (any model in inference
 * mode).
 *
 * At every fit it checks the teacher (its content fingerprint: architecture and weights for
 * LayersModels, or `options.fingerprint`; else its identity), the data (the tensors, or the
 * source object) and the taps, and empties itself when any changed. A plugin that declares
 * `changesTeacherInput` makes `fit` refuse it (`cached-teacher-transformed`). With a `store`,
 * complete tables are also saved under a SHA-256 content key and restored by later runs; that
 * needs a fingerprint of the teacher (`no-fingerprint` at construction otherwise) and of the data
 * (in-memory tensors, or a source with `fingerprint()`).
 *
 * Outside a fit (no `begin`), and for calls without ids, it is the wrapped teacher. It holds no
 * tensors; `clear()` frees its memory.
 */
export function cachedTeacher(teacher: TeacherLike, options: CachedTeacherOptions = {}): CachedTeacher {
  return createCachedTeacher(teacher, options, false);
}

/**
 * The Distiller's default cache: like {@link cachedTeacher}, but steps aside (inactive, with the
 * reason in its stats) where a cache was not asked for explicitly: data from a DataSource, or a
 * plugin that changes the teacher's input. Not exported from the package.
 */
export function defaultTeacherCache(teacher: TeacherLike, options: CachedTeacherOptions = {}): CachedTeacher {
  return createCachedTeacher(teacher, options, true);
}

/** Schema of {@link CachedTeacherOptions}. */
export const cachedTeacherOptionsSchema = optionsSchema<CachedTeacherOptions>()({
  store: teacherCacheStoreSchema.optional(),
  maxBytes: z.number().int().nonnegative().optional(),
  fingerprint: z.string().min(1).optional(),
});

function createCachedTeacher(wrapped: TeacherLike, raw: CachedTeacherOptions, implicit: boolean): CachedTeacher {
  const options = parseOptions(cachedTeacherOptionsSchema, raw, 'cachedTeacher');
  const inner = toTeacher(wrapped);
  const maxBytes = options.maxBytes ?? 2 ** 30;
  if (inner.precomputed) {
    throw new DistillationError(
      'bad-teacher',
      `cachedTeacher: the teacher (${inner.description}) is precomputed: its outputs are read, not computed; use it without a cache`,
    );
  }
  if (options.store && !inner.fingerprint && options.fingerprint === undefined) {
    throw new DistillationError(
      'no-fingerprint',
      `cachedTeacher: a store keeps outputs by content, but the teacher (${inner.description}) has no fingerprint of its own; pass option "fingerprint" (change it whenever the teacher changes)`,
    );
  }
  const store = options.store;
  const fingerprint = async (): Promise<string | undefined> => options.fingerprint ?? (await inner.fingerprint?.());

  let table: OutputTable | undefined;
  let size = 0;
  let taps: string[] = [];
  let identity: string | undefined;
  let key: string | undefined;
  let savedKey: string | undefined;
  /** Why the cache does not serve this fit (data or plugins), reset at every begin. */
  let inactive: string | undefined;
  /** Why the cache cannot serve this teacher at all (its outputs), or is too large for the data. */
  let disabled: string | undefined;
  let begun = false;
  const pending = new Set<Promise<void>>();
  let failure: unknown;
  const counters = { hits: 0, misses: 0, bypassed: 0, invalidations: 0, restored: 0, saved: 0 };

  const settle = async () => {
    await Promise.all([...pending]);
    if (failure !== undefined) {
      const error = failure;
      failure = undefined;
      throw error;
    }
  };

  const clear = () => {
    table?.release();
    table = undefined;
    key = undefined;
    savedKey = undefined;
    if (disabled?.startsWith('too large')) disabled = undefined;
  };

  /** Plans the table on the first prediction; undefined (and `disabled` set) when it cannot be kept. */
  const tableFor = (out: TeacherPrediction): OutputTable | undefined => {
    if (table) {
      const difference = table.fits(out);
      if (difference) {
        throw new DistillationError('teacher-cache', `teacher cache: the teacher (${inner.description}) returned ${difference}`);
      }
      return table;
    }
    if (!ensembleDetail(out) && typeof out.logProbabilities === 'function') {
      // A teacher with its own distribution at T: the table keeps logits only, and replaying them
      // would give plugins logSoftmax(logits / T) instead. It runs every step.
      disabled = 'the teacher defines its own logProbabilities, which the cache cannot store';
      return undefined;
    }
    if (predictionTensors(out).some((t) => t.dtype !== 'float32')) {
      disabled = 'teacher outputs are not all float32';
      return undefined;
    }
    const bytes = OutputTable.bytesFor(out, size);
    if (bytes > maxBytes) {
      disabled = `too large: ${bytes} bytes for ${size} examples exceeds the cache's maxBytes ${maxBytes}`;
      return undefined;
    }
    table = OutputTable.for(out, size);
    return table;
  };

  /** Reads the rows at `positions` of `out` (asynchronously) into the table. */
  const record = (target: OutputTable, out: TeacherPrediction, ids: readonly ExampleId[], positions: number[]) => {
    const detail = ensembleDetail(out);
    const names = target.taps;
    // data() reads now (the tensors may be disposed when the step ends); the rows are filled
    // when the values arrive, and a row not yet filled is simply a miss.
    const reads = Promise.all([
      out.logits.data() as Promise<Float32Array>,
      ...names.map((k) => out.features[k]!.data() as Promise<Float32Array>),
      ...(detail ? [detail.members.data() as Promise<Float32Array>] : []),
    ]);
    const write: Promise<void> = reads
      .then((values) => {
        if (table !== target) return; // cleared or replaced meanwhile
        target.write(
          ids,
          {
            logits: values[0]!,
            features: Object.fromEntries(names.map((k, i) => [k, values[i + 1]!])),
            ...(detail ? { members: values[names.length + 1]! } : {}),
          },
          positions,
        );
      })
      .catch((error: unknown) => {
        failure ??= error;
      })
      .finally(() => pending.delete(write));
    pending.add(write);
    counters.misses += positions.length;
  };

  const cache: CachedTeacher = {
    kind: 'kd-teacher',
    description: inner.description,
    teacher: inner,
    ...(inner.numClasses !== undefined ? { numClasses: inner.numClasses } : {}),
    ...(inner.fingerprint || options.fingerprint !== undefined ? { fingerprint: async () => (await fingerprint())! } : {}),
    tap(names) {
      return inner.tap(names);
    },

    async begin(run: TeacherRun) {
      if (begun) {
        throw new DistillationError(
          'teacher-cache',
          `cachedTeacher: the teacher (${inner.description}) is already serving a fit that has not ended; give each concurrent fit its own cachedTeacher (they may share a store)`,
        );
      }
      await settle();
      inactive = undefined;
      await inner.begin?.(run);
      if (run.inputChangers.length > 0) {
        const why = `plugin(s) [${run.inputChangers.join(', ')}] change the teacher's input every step (changesTeacherInput), so kept outputs would not hold`;
        if (implicit) {
          inactive = why;
          return;
        }
        throw new DistillationError(
          'cached-teacher-transformed',
          `fit: the teacher is a cachedTeacher, but ${why}; use the teacher without a cache, or augment in the data instead (fixed views, e.g. @kd/data's augmentedViews), whose outputs are kept per view`,
        );
      }
      if (implicit && !run.tensors) {
        inactive =
          "the training data is a DataSource; the default cache keeps outputs of in-memory tensors only (wrap the teacher in cachedTeacher() to keep a source's outputs by example id)";
        return;
      }
      const teacherPart = (await fingerprint()) ?? `teacher#${identityOf(inner)}`;
      const dataPart = run.tensors
        ? `tensors#${run.tensors.x.id}/${run.tensors.teacherX?.id ?? '-'}`
        : `source#${identityOf(run.source)}/${run.source.size}`;
      const next = `${teacherPart}|${dataPart}|${[...run.taps].sort().join(',')}`;
      if (identity !== undefined && next !== identity) {
        counters.invalidations++;
        clear();
      }
      identity = next;
      size = run.source.size;
      taps = [...run.taps].sort();
      begun = true;
      if (!store || table || disabled) return;
      key = await storeKey(run, teacherPart);
      const saved = await store.load(key);
      if (saved) {
        table = OutputTable.fromRecord(saved, size, taps, `under "${key}"`);
        counters.restored += size;
        savedKey = key;
      }
    },

    async end() {
      // After the fit the table serves nothing (evaluation on other data runs the teacher), and
      // its backend copy is freed: between fits the cache holds no tensors.
      begun = false;
      table?.release();
      await settle();
      await inner.end?.();
      if (!store || !key || !table?.complete || savedKey === key) return;
      await store.save(key, table.toRecord());
      counters.saved++;
      savedKey = key;
    },

    predict(x: tf.Tensor, batch?: TeacherBatch): TeacherPrediction {
      const n = x.shape[0]!;
      if (!begun || inactive || disabled || !batch || batch.transformed || batch.ids.length !== n) {
        if (begun) counters.bypassed += n;
        return inner.predict(x, batch);
      }
      // In-memory tensors: a complete table in position order is gathered by the batch's own positions.
      const gathered = batch.positions && table?.complete ? table.readPositions(batch.positions) : undefined;
      if (gathered) {
        counters.hits += n;
        return gathered;
      }
      const rows = table ? table.rowsOf(batch.ids) : new Int32Array(n).fill(-1);
      const missing: number[] = [];
      rows.forEach((row, i) => row < 0 && missing.push(i));
      if (missing.length === 0) {
        counters.hits += n;
        return table!.read(rows);
      }
      // Anything missing: the teacher runs on the whole batch, exactly as without a cache.
      const out = inner.predict(x, batch);
      const target = tableFor(out);
      if (target) record(target, out, batch.ids, missing);
      else counters.bypassed += n;
      return out;
    },

    stats(): TeacherCacheStats {
      const reason = inactive ?? disabled;
      return {
        active: reason === undefined,
        ...(reason ? { reason } : {}),
        ...counters,
        filled: table?.filledCount ?? 0,
        size,
        bytes: table?.bytes ?? 0,
      };
    },

    clear,
  };
  Object.defineProperty(cache, CACHED, { value: true });
  return cache;

  async function storeKey(run: TeacherRun, teacherPart: string): Promise<string> {
    const dataPart = await run.source.fingerprint?.();
    if (dataPart === undefined) {
      throw new DistillationError(
        'no-fingerprint',
        `cachedTeacher: a store keeps outputs by content, but the training data (${run.source.description ?? 'a DataSource'}) has no fingerprint(); give in-memory tensors, a source with fingerprint(), or no store`,
      );
    }
    const digest = await sha256Digest()
      .update(`kd-teacher-outputs/v2\n${teacherPart}\n${dataPart}\n${taps.join(',')}`)
      .hex();
    return `kd-teacher-outputs/v2/${digest}`;
  }
}
