import {
  type DataSource,
  DistillationError,
  type ExampleId,
  isDataSource,
  type LabeledData,
  optionsSchema,
  parseOptions,
  sha256Digest,
  type TeacherLike,
  tensorSource,
  toTeacher,
} from '@kd/core';
import { z } from 'zod';
import { TeacherStoreError } from './errors';
import { parseManifest } from './manifest';
import { decodeShard, type ShardRows } from './shard';
import { identityOf, sourceDifference, spotCheck } from './sourceCheck';
import { type StoredTeacher, teacherFromShards } from './storedTeacher';

/**
 * Reads one file of a store by its name in the store (`manifest.json`, `shard-00000.arrow`):
 * its bytes, or `undefined` when there is no such file. Other failures are thrown as they are.
 */
export type StoreReader = (file: string) => Promise<Uint8Array | undefined>;

/** The checks every way of opening a store offers (`storedTeacher`, {@link fetchStoredTeacher}, {@link readStoredTeacher}). */
export interface StoreCheckOptions {
  /** Check the store against this teacher's fingerprint (a LayersModel, an ensemble of them) before any shard is read. */
  readonly teacher?: TeacherLike;
  /** Or against a given fingerprint (hex SHA-256). */
  readonly fingerprint?: string;
  /**
   * Check the store against the data it will be used with: description, size, example shape, the
   * values of in-memory tensors, and (random access) the id at each shard's first position.
   */
  readonly source?: DataSource | LabeledData;
}

/** A lower-case hex SHA-256. */
export const hexSha256 = z.string().regex(/^[0-9a-f]{64}$/, { message: 'must be a lower-case hex SHA-256 (64 characters)' });

/** Schema fields of {@link StoreCheckOptions}, shared by the options schemas of every reader. */
export const storeCheckFields = {
  teacher: z.custom<TeacherLike>((v) => v !== null && v !== undefined, { message: 'must be a teacher' }).optional(),
  fingerprint: hexSha256.optional(),
  source: z
    .custom<DataSource | LabeledData>((v) => typeof v === 'object' && v !== null, { message: 'must be a DataSource or { x, y } tensors' })
    .optional(),
} as const;

/** Where a store is, for messages. */
export interface StorePlace {
  /** The function the user called (starts every message). */
  readonly caller: string;
  /** The store: a directory, a URL, a name. */
  readonly store: string;
  /** A file of the store as messages name it: its path or URL. */
  readonly locate: (file: string) => string;
  /** How the reader saw a missing file, for messages (`HTTP 404`). */
  readonly notFound?: string;
}

const MANIFEST = 'manifest.json';

/**
 * The store-loading logic every reader shares (browser-safe: no file system, core's
 * `sha256Digest`): reads and checks `manifest.json`, the teacher and source checks, then every
 * shard (its SHA-256, rows, columns, unique ids), the SHA-256 of all ids, and builds the teacher.
 * `options` are parsed already.
 */
export async function loadStore(read: StoreReader, place: StorePlace, options: StoreCheckOptions): Promise<StoredTeacher> {
  const { caller, store, locate } = place;
  const bytes = await read(MANIFEST);
  if (bytes === undefined) {
    throw new TeacherStoreError(
      'store-not-found',
      `${caller}: ${locate(MANIFEST)} does not exist (${place.notFound ? `${place.notFound}: ` : ''}no store there, or precomputeTeacher has not finished)`,
    );
  }
  const manifest = parseManifest(new TextDecoder().decode(bytes), locate(MANIFEST));
  const check = options.teacher === undefined ? undefined : toTeacher(options.teacher);
  if (check && !check.fingerprint) {
    throw new TeacherStoreError(
      'store-no-fingerprint',
      `${caller}: option "teacher" (${check.description}) has no fingerprint to check the store against; pass option "fingerprint"`,
    );
  }
  const expected = options.fingerprint ?? (await check?.fingerprint?.());
  if (expected && expected !== manifest.teacher.fingerprint) {
    throw new TeacherStoreError(
      'store-fingerprint-mismatch',
      `${caller}: ${store} holds the outputs of teacher ${manifest.teacher.fingerprint} (${manifest.teacher.description}), not of ${expected}`,
    );
  }
  if (options.teacher && options.fingerprint) {
    throw new DistillationError('bad-option', `${caller}: give option "teacher" or option "fingerprint", not both`);
  }
  const given = options.source && (isDataSource(options.source) ? options.source : tensorSource(options.source));
  if (options.source && given) {
    const difference = sourceDifference(manifest.source, await identityOf(options.source, given));
    if (difference) {
      throw new TeacherStoreError(
        'store-source-mismatch',
        `${caller}: ${store} was computed on ${manifest.source.description}, not on the source given: ${difference}`,
      );
    }
  }
  const shards: ShardRows[] = [];
  const seen = new Set<ExampleId>();
  const idsHash = sha256Digest();
  for (const entry of manifest.shards) {
    const file = locate(entry.file);
    const shard = await read(entry.file);
    if (!shard)
      throw new TeacherStoreError(
        'store-bad-shard',
        `${caller}: shard ${file} listed in the manifest is missing${place.notFound ? ` (${place.notFound})` : ''}`,
      );
    if ((await sha256Digest().update(shard).hex()) !== entry.sha256) {
      throw new TeacherStoreError(
        'store-bad-shard',
        `${caller}: shard ${file} is not the file the manifest lists (SHA-256 differs: truncated or replaced)`,
      );
    }
    const rows = decodeShard(shard, manifest, file, entry.rows);
    for (const id of rows.ids) {
      if (seen.has(id)) throw new TeacherStoreError('store-bad-shard', `${caller}: shard ${file} repeats example id ${JSON.stringify(id)}`);
      seen.add(id);
      idsHash.update(`${JSON.stringify(id)}\n`);
    }
    shards.push(rows);
  }
  if ((await idsHash.hex()) !== manifest.source.idsSha256) {
    throw new TeacherStoreError(
      'store-bad-shard',
      `${caller}: the ids in ${store}'s shards are not those its manifest records (source.idsSha256)`,
    );
  }
  if (given) {
    let position = 0;
    const firsts = shards.map((rows) => {
      const first = { position, id: rows.ids[0]! };
      position += rows.ids.length;
      return first;
    });
    await spotCheck(given, firsts, `${caller}: ${store}`);
  }
  return teacherFromShards(manifest, shards, `stored teacher "${store}" (${manifest.teacher.description})`);
}

/** Options of {@link readStoredTeacher}. */
export interface ReadStoredTeacherOptions extends StoreCheckOptions {
  /** Names the store in messages and in the teacher's description; files are named `<name>/<file>`. Default `"the store"`. */
  readonly name?: string;
}

/** Schema of {@link ReadStoredTeacherOptions}. */
export const readStoredTeacherSchema = optionsSchema<ReadStoredTeacherOptions>()({
  name: z.string().min(1).optional(),
  ...storeCheckFields,
});

/**
 * The teacher of a store read through any {@link StoreReader}: a zip, IndexedDB, a bundle, a
 * test's map of files. Browser-safe; `storedTeacher(dir)` (`@kd/teacher-store/node`) and
 * {@link fetchStoredTeacher} are this over the file system and over `fetch`. Checks the manifest,
 * the teacher / source given, every shard's SHA-256, rows, columns and ids, and the SHA-256 of
 * all ids; throws `store-not-found` when `read('manifest.json')` gives `undefined`,
 * `store-bad-manifest`, `store-bad-shard` (naming the shard), `store-fingerprint-mismatch`,
 * `store-source-mismatch`.
 */
export async function readStoredTeacher(read: StoreReader, options: ReadStoredTeacherOptions = {}): Promise<StoredTeacher> {
  const { name, ...checks } = parseOptions(readStoredTeacherSchema, options, 'readStoredTeacher');
  if (typeof read !== 'function') {
    throw new DistillationError(
      'bad-option',
      'readStoredTeacher: the reader must be a function (file name) => Promise<Uint8Array | undefined>',
    );
  }
  const store = name ?? 'the store';
  const base = store.replace(/\/+$/, '');
  return loadStore(read, { caller: 'readStoredTeacher', store, locate: (file) => `${base}/${file}` }, checks);
}
