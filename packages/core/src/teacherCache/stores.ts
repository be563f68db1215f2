import { z } from 'zod';
import type { EnsembleMean } from '../plugin';
import type { ExampleId } from '../source';

/**
 * Teacher outputs of a whole data set, as plain arrays: what a {@link TeacherCacheStore} keeps.
 * Row `r` of every field belongs to example `ids[r]`. Fields are named `logits`,
 * `feature:<layer>` and (ensembles) `members`.
 */
export interface TeacherOutputRecord {
  /** Examples (rows of every field). */
  readonly size: number;
  /** The example of each row, in row order. */
  readonly ids: readonly ExampleId[];
  readonly fields: Readonly<Record<string, { readonly rowShape: readonly number[]; readonly values: Float32Array }>>;
  readonly mean?: EnsembleMean;
}

/**
 * Keeps complete teacher outputs beyond one run of a {@link cachedTeacher}: other Distillers in
 * the process ({@link memoryTeacherCacheStore}) or later processes (`fileTeacherCacheStore` from
 * `@kd/core/node`). Keys are SHA-256 content fingerprints of the teacher (architecture and
 * weights, or the fingerprint its user gave), of the data and of the tapped layer names, so a
 * changed teacher or data set never reads stale outputs.
 */
export interface TeacherCacheStore {
  /** The record saved under `key`, or undefined. */
  load(key: string): Promise<TeacherOutputRecord | undefined>;
  /** Saves a complete record (every example filled). */
  save(key: string, record: TeacherOutputRecord): Promise<void>;
}

/** A {@link TeacherCacheStore} in this process's memory, to share between Distillers (e.g. the methods of a benchmark). */
export function memoryTeacherCacheStore(): TeacherCacheStore & { readonly keys: () => string[]; clear(): void } {
  const records = new Map<string, TeacherOutputRecord>();
  return {
    async load(key) {
      return records.get(key);
    },
    async save(key, record) {
      records.set(key, record);
    },
    keys: () => [...records.keys()],
    clear: () => records.clear(),
  };
}

/** Schema of a {@link TeacherCacheStore} option: an object with `load()` and `save()`. */
export const teacherCacheStoreSchema = z.custom<TeacherCacheStore>(
  (v) =>
    typeof v === 'object' &&
    v !== null &&
    typeof (v as TeacherCacheStore).load === 'function' &&
    typeof (v as TeacherCacheStore).save === 'function',
  { message: 'must be a store with load() and save()' },
);
