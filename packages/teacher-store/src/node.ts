/**
 * Node part of `@kd/teacher-store`: {@link precomputeTeacher} runs a teacher once over a source
 * and writes its outputs as Arrow shards plus `manifest.json`; {@link storedTeacher} reads them
 * back as a teacher that never runs a model. Import from `@kd/teacher-store/node`.
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BatchReader,
  batchTensors,
  checkSource,
  type DataSource,
  DistillationError,
  type ExampleId,
  isDataSource,
  isRandomAccess,
  type LabeledData,
  modelFingerprint,
  optionsSchema,
  parseOptions,
  type RandomAccessSource,
  type SourceBatch,
  type Teacher,
  type TeacherLike,
  tensorSource,
  toTeacher,
} from '@kd/core';
import { atomicWriteFile } from '@kd/core/node';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { TeacherStoreError } from './errors';
import { parseManifest, type ShardEntry, STORE_VERSION, type StoreManifest } from './manifest';
import { hexSha256, loadStore, type StoreCheckOptions, storeCheckFields } from './read';
import { decodeShard, encodeShard, tapWidth } from './shard';
import { identityOf, type SourceIdentity, sourceDifference, spotCheck } from './sourceCheck';
import type { StoredTeacher } from './storedTeacher';

/** Options of {@link precomputeTeacher}. */
export interface PrecomputeOptions {
  /** Teacher layers to record besides the logits (the names plugins will tap). Default none. */
  readonly taps?: readonly string[];
  /** `float32` (default) or `float16` (half the bytes on disk; values rounded to half precision). */
  readonly dtype?: 'float32' | 'float16';
  /** Examples per shard. Default 4096; a multiple of `batchSize`. */
  readonly shardSize?: number;
  /** Examples per teacher forward pass. Default 256. */
  readonly batchSize?: number;
  /**
   * Hex SHA-256 naming the teacher; required unless the teacher has a fingerprint of its own
   * (a LayersModel or an ensemble of them: architecture and weights are hashed, see `modelFingerprint`).
   */
  readonly fingerprint?: string;
  /** Called after each shard is on disk (or found complete). */
  readonly onShard?: (event: { readonly index: number; readonly shards: number; readonly skipped: boolean }) => void;
}

/** Schema of {@link PrecomputeOptions}. */
export const precomputeSchema = optionsSchema<PrecomputeOptions>()({
  taps: z.array(z.string().min(1)).default([]),
  dtype: z.enum(['float32', 'float16']).default('float32'),
  shardSize: z.number().int().positive().default(4096),
  batchSize: z.number().int().positive().default(256),
  fingerprint: hexSha256.optional(),
  onShard: z.custom<PrecomputeOptions['onShard']>((v) => typeof v === 'function', { message: 'must be a function' }).optional(),
});

const shardFile = (k: number) => `shard-${String(k).padStart(5, '0')}.arrow`;
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const PARTIAL = 'manifest.partial.json';

/**
 * Runs `teacher` once over every example of `source` (in position order, inference mode) and
 * writes its logits and `taps` to `dir`: Arrow IPC shards of `shardSize` examples keyed by
 * example id, then `manifest.json` (teacher and source fingerprints, shapes, dtype, count, shard
 * list with SHA-256s). Every file is written atomically (temporary file + rename) and
 * `manifest.json` last, so a killed run leaves whole shards only; a re-run with the same teacher,
 * source and options skips the shards already written (`manifest.partial.json` lists them; their
 * ids are checked against the source) and a complete store of the same run is returned as it is
 * (another run's is refused). Checks every batch's outputs, refuses repeated ids, and leaves no
 * tensors behind.
 */
export async function precomputeTeacher(
  teacher: TeacherLike,
  data: DataSource | LabeledData,
  dir: string,
  options: PrecomputeOptions = {},
): Promise<StoreManifest> {
  const o = parseOptions(precomputeSchema, options, 'precomputeTeacher');
  if (o.shardSize % o.batchSize !== 0) {
    throw new DistillationError(
      'bad-option',
      `precomputeTeacher: option "shardSize" (${o.shardSize}) must be a multiple of option "batchSize" (${o.batchSize})`,
    );
  }
  const source = isDataSource(data) ? data : tensorSource(data);
  checkSource(source, 'precomputeTeacher: source', Number.POSITIVE_INFINITY);
  const live = toTeacher(teacher);
  const fingerprint = o.fingerprint ?? (await live.fingerprint?.());
  if (!fingerprint) {
    throw new TeacherStoreError(
      'store-no-fingerprint',
      `precomputeTeacher: ${live.description} has no fingerprint of its own (only LayersModels and ensembles of them do), so its outputs cannot be named; pass option "fingerprint" (a hex SHA-256 naming this teacher and its weights)`,
    );
  }
  const layout = storeLayout(live, source, { taps: o.taps, dtype: o.dtype });
  const { numClasses, taps } = layout;
  const n = source.size;
  const given = await identityOf(data, source);
  const identity = JSON.stringify({ fingerprint, source: given, layout, shardSize: o.shardSize });
  await mkdir(dir, { recursive: true });
  const finished = await readFile(join(dir, 'manifest.json'), 'utf8').catch(() => undefined);
  if (finished !== undefined) {
    const manifest = parseManifest(finished, join(dir, 'manifest.json'));
    const difference =
      manifest.teacher.fingerprint !== fingerprint
        ? `teacher ${manifest.teacher.fingerprint.slice(0, 12)}… vs ${fingerprint.slice(0, 12)}…`
        : manifest.dtype !== o.dtype || manifest.numClasses !== numClasses || JSON.stringify(manifest.taps) !== JSON.stringify(taps)
          ? `layout ${JSON.stringify({ numClasses: manifest.numClasses, taps: manifest.taps, dtype: manifest.dtype })} vs ${JSON.stringify(layout)}`
          : sourceDifference(manifest.source, given);
    if (difference) {
      throw new TeacherStoreError(
        'store-fingerprint-mismatch',
        `precomputeTeacher: ${dir} already holds a complete store of another run (${difference}). Use another directory or remove it`,
      );
    }
    return manifest;
  }
  // Shards of an interrupted run with the same identity, each checked against its digest; their ids come from the shard.
  const done = new Map<number, ShardEntry & { ids: ExampleId[] }>();
  const partial = await readFile(join(dir, PARTIAL), 'utf8').catch(() => undefined);
  if (partial !== undefined) {
    let saved: { identity?: string; idType?: 'number' | 'string'; shards?: Record<string, ShardEntry> } | undefined;
    try {
      saved = JSON.parse(partial);
    } catch {
      saved = undefined; // a torn file: start over
    }
    if (saved?.identity === identity) {
      const shardLayout = { ...layout, idType: saved.idType ?? 'string' };
      for (const [k, entry] of Object.entries(saved.shards ?? {})) {
        const bytes = await readFile(join(dir, entry.file)).catch(() => undefined);
        if (!bytes || sha256(bytes) !== entry.sha256) continue;
        done.set(Number(k), { ...entry, ids: [...decodeShard(bytes, shardLayout, entry.file, entry.rows).ids] });
      }
    }
  }
  const shards = Math.ceil(n / o.shardSize);
  await spotCheck(
    source,
    [...done].map(([k, e]) => ({ position: k * o.shardSize, id: e.ids[0]! })),
    'precomputeTeacher: resuming',
  );
  let idType: 'number' | 'string' | undefined;
  const seen = new Set<ExampleId>();
  const admit = (ids: readonly ExampleId[]) => {
    for (const id of ids) {
      const kind = typeof id === 'number' ? 'number' : 'string';
      idType ??= kind;
      if (kind !== idType) {
        throw new TeacherStoreError(
          'store-mixed-ids',
          `precomputeTeacher: ${source.description ?? 'the source'} yields both number and string ids (${JSON.stringify(id)})`,
        );
      }
      if (seen.has(id))
        throw new TeacherStoreError(
          'store-bad-shard',
          `precomputeTeacher: ${source.description ?? 'the source'} yields example id ${JSON.stringify(id)} twice`,
        );
      seen.add(id);
    }
  };
  for (const entry of [...done].sort(([a], [b]) => a - b).map(([, e]) => e)) admit(entry.ids);
  const save = async () =>
    atomicWriteFile(
      join(dir, PARTIAL),
      JSON.stringify({
        identity,
        idType,
        shards: Object.fromEntries([...done].map(([k, v]) => [String(k), { file: v.file, rows: v.rows, sha256: v.sha256 }])),
      }),
    );
  const runShard = async (k: number, batches: () => Promise<{ ids: readonly ExampleId[]; x: tf.Tensor }>, count: number) => {
    const rows = Math.min(o.shardSize, n - k * o.shardSize);
    const { bytes, ids, sha256: digest } = await shardFromBatches(live, layout, rows, count, batches, admit);
    await atomicWriteFile(join(dir, shardFile(k)), bytes);
    done.set(k, { file: shardFile(k), rows, sha256: digest, ids });
    await save();
  };
  const tensorsOf = (batch: SourceBatch) => teacherInput(source, batch);
  const batchesPerShard = (k: number) => Math.ceil(Math.min(o.shardSize, n - k * o.shardSize) / o.batchSize);
  const what = 'precomputeTeacher: source';
  if (isRandomAccess(source)) {
    for (let k = 0; k < shards; k++) {
      const skipped = done.has(k);
      if (!skipped) {
        const start = k * o.shardSize;
        const order = Int32Array.from({ length: Math.min(o.shardSize, n - start) }, (_, i) => start + i);
        const reader = new BatchReader(source, { order, batchSize: o.batchSize, prefetch: 2, what, numClasses: Number.POSITIVE_INFINITY });
        try {
          await runShard(k, async () => tensorsOf((await reader.next()).batch), batchesPerShard(k));
        } finally {
          await reader.close();
        }
      }
      o.onShard?.({ index: k, shards, skipped });
    }
  } else {
    // A stream is read front to back once; batches of shards already on disk are compared with them and passed over.
    const order = Int32Array.from({ length: n }, (_, i) => i);
    const reader = new BatchReader(source, { order, batchSize: o.batchSize, prefetch: 2, what, numClasses: Number.POSITIVE_INFINITY });
    try {
      for (let k = 0; k < shards; k++) {
        const entry = done.get(k);
        if (entry) {
          let at = 0;
          for (let b = 0; b < batchesPerShard(k); b++) {
            const { batch } = await reader.next();
            batch.ids.forEach((id, i) => {
              if (entry.ids[at + i] !== id) {
                throw new TeacherStoreError(
                  'store-source-mismatch',
                  `precomputeTeacher: resuming, position ${k * o.shardSize + at + i} is example ${JSON.stringify(id)}, shard ${entry.file} has ${JSON.stringify(entry.ids[at + i])}`,
                );
              }
            });
            at += batch.ids.length;
          }
          o.onShard?.({ index: k, shards, skipped: true });
          continue;
        }
        await runShard(k, async () => tensorsOf((await reader.next()).batch), batchesPerShard(k));
        o.onShard?.({ index: k, shards, skipped: false });
      }
    } finally {
      await reader.close();
    }
  }
  const manifest = storeManifest({
    teacher: { description: live.description, fingerprint },
    source: given,
    layout,
    idType: idType ?? 'number',
    backend: tf.getBackend(),
    shards: Array.from({ length: shards }, (_, k) => done.get(k)!),
  });
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  await atomicWriteFile(join(dir, 'manifest.json'), text);
  return manifest;
}

/** What every shard of a store shares: the logits' width, the tapped layers' shapes, the dtype. */
export type StoreLayout = Pick<StoreManifest, 'numClasses' | 'taps' | 'dtype'>;

/**
 * The layout of a store of `teacher`'s outputs on `source`: taps sorted by name (code-point
 * order), `numClasses` from the teacher, or from one forward pass of a zero example. Tensors are
 * freed. What `precomputeTeacher` records; exported for writers that compute shards in other
 * processes (`@kd/fleet`).
 */
export function storeLayout(
  teacher: Teacher,
  source: DataSource,
  options: { readonly taps: readonly string[]; readonly dtype: StoreManifest['dtype'] },
): StoreLayout {
  const taps = Object.fromEntries(Object.entries(teacher.tap(options.taps)).sort(([a], [b]) => (a < b ? -1 : 1)));
  const numClasses =
    teacher.numClasses ??
    tf.tidy(() => teacher.predict(tf.zeros([1, ...(source.teacherExampleShape ?? source.exampleShape)]), { ids: [0] }).logits.shape[1]!);
  return { numClasses, taps, dtype: options.dtype };
}

/** The teacher's input tensor of a source batch (`teacherX` when the source has one); the other tensors are freed. */
function teacherInput(source: DataSource, batch: SourceBatch): { ids: readonly ExampleId[]; x: tf.Tensor } {
  const t = batchTensors(source, batch);
  t.y.dispose();
  if (t.teacherX) t.x.dispose();
  return { ids: batch.ids, x: t.teacherX ?? t.x };
}

/** One shard's bytes (Arrow IPC, the store format), its ids in position order and the SHA-256 of the bytes. */
export interface ComputedShard {
  readonly bytes: Uint8Array;
  readonly ids: ExampleId[];
  readonly rows: number;
  readonly sha256: string;
}

/** Runs the teacher over `count` batches (`rows` examples in all) and encodes the shard; checks every output's shape. */
async function shardFromBatches(
  live: Teacher,
  layout: StoreLayout,
  rows: number,
  count: number,
  batches: () => Promise<{ ids: readonly ExampleId[]; x: tf.Tensor }>,
  admit: (ids: readonly ExampleId[]) => void,
): Promise<ComputedShard> {
  const { numClasses, taps } = layout;
  const logits = new Float32Array(rows * numClasses);
  const tapped = Object.fromEntries(Object.entries(taps).map(([name, shape]) => [name, new Float32Array(rows * tapWidth(shape))]));
  const ids: ExampleId[] = [];
  for (let b = 0; b < count; b++) {
    const { ids: batchIds, x } = await batches();
    const at = ids.length;
    let out: { logits: Float32Array; features: Record<string, Float32Array> };
    try {
      out = tf.tidy(() => {
        const p = live.predict(x, { ids: batchIds });
        const m = batchIds.length;
        if (p.logits.rank !== 2 || p.logits.shape[0] !== m || p.logits.shape[1] !== numClasses) {
          throw new TeacherStoreError(
            'store-bad-value',
            `precomputeTeacher: the teacher output logits [${p.logits.shape}] for a batch of ${m} (expected [${m}, ${numClasses}])`,
          );
        }
        const features: Record<string, Float32Array> = {};
        for (const [name, shape] of Object.entries(taps)) {
          const f = p.features[name];
          if (!f || f.size !== m * tapWidth(shape)) {
            throw new TeacherStoreError(
              'store-bad-value',
              `precomputeTeacher: tap "${name}" is [${f?.shape ?? 'missing'}] for a batch of ${m}, the store records [${shape}]`,
            );
          }
          features[name] = f.dataSync() as Float32Array;
        }
        return { logits: p.logits.dataSync() as Float32Array, features };
      });
    } finally {
      x.dispose();
    }
    logits.set(out.logits, at * numClasses);
    for (const [name, shape] of Object.entries(taps)) tapped[name]!.set(out.features[name]!, at * tapWidth(shape));
    admit(batchIds);
    ids.push(...batchIds);
  }
  const bytes = encodeShard({ ids, logits, taps: tapped }, layout);
  return { bytes, ids, rows, sha256: sha256(bytes) };
}

/**
 * Computes the shard of positions `[start, end)` of a random-access `source` exactly as
 * `precomputeTeacher` does (batches of `batchSize` from `start`, inference mode): the same bytes
 * on the same backend. For writers that compute shards in other processes (`@kd/fleet`); the
 * caller writes the bytes. Refuses an id repeated within the shard; leaves no tensors behind.
 */
export async function computeShard(
  teacher: Teacher,
  source: RandomAccessSource,
  layout: StoreLayout,
  range: { readonly start: number; readonly end: number; readonly batchSize: number },
): Promise<ComputedShard> {
  const { start, end, batchSize } = range;
  const order = Int32Array.from({ length: end - start }, (_, i) => start + i);
  const what = 'precomputeTeacher: source';
  const reader = new BatchReader(source, { order, batchSize, prefetch: 2, what, numClasses: Number.POSITIVE_INFINITY });
  const seen = new Set<ExampleId>();
  const admit = (ids: readonly ExampleId[]) => {
    for (const id of ids) {
      if (seen.has(id)) {
        throw new TeacherStoreError(
          'store-bad-shard',
          `computeShard: ${source.description ?? 'the source'} yields example id ${JSON.stringify(id)} twice`,
        );
      }
      seen.add(id);
    }
  };
  try {
    return await shardFromBatches(
      teacher,
      layout,
      end - start,
      Math.ceil((end - start) / batchSize),
      async () => teacherInput(source, (await reader.next()).batch),
      admit,
    );
  } finally {
    await reader.close();
  }
}

/**
 * The `manifest.json` of a complete store, as `precomputeTeacher` writes it: `shards` in position
 * order with their ids (hashed into `source.idsSha256`). Checked with `parseManifest` (never a
 * manifest the readers refuse). Exported for writers that compute shards elsewhere (`@kd/fleet`).
 */
export function storeManifest(parts: {
  readonly teacher: StoreManifest['teacher'];
  readonly source: SourceIdentity;
  readonly layout: StoreLayout;
  readonly idType: StoreManifest['idType'];
  readonly backend: string;
  readonly shards: readonly (ShardEntry & { readonly ids: readonly ExampleId[] })[];
}): StoreManifest {
  const idsHash = createHash('sha256');
  for (const entry of parts.shards) for (const id of entry.ids) idsHash.update(`${JSON.stringify(id)}\n`);
  const manifest: StoreManifest = {
    format: 'kd-teacher-store',
    version: STORE_VERSION,
    teacher: parts.teacher,
    source: { ...parts.source, idsSha256: idsHash.digest('hex') },
    numClasses: parts.layout.numClasses,
    taps: parts.layout.taps,
    dtype: parts.layout.dtype,
    idType: parts.idType,
    backend: parts.backend,
    shards: parts.shards.map(({ file, rows, sha256: digest }) => ({ file, rows, sha256: digest })),
  };
  parseManifest(JSON.stringify(manifest), 'precomputeTeacher: the manifest it would write'); // never write one the reader refuses
  return manifest;
}

/** Options of {@link storedTeacher}: the checks of every store reader (see `fetchStoredTeacher` for the browser). */
export type StoredTeacherOptions = StoreCheckOptions;

/** Schema of {@link StoredTeacherOptions}. */
export const storedTeacherSchema = optionsSchema<StoredTeacherOptions>()({ ...storeCheckFields });

const missingFile = (error: NodeJS.ErrnoException) => error.code === 'ENOENT' || error.code === 'ENOTDIR';

/**
 * The teacher of a store written by {@link precomputeTeacher} (or any writer following the
 * format): reads `manifest.json` and every shard (each checked against its SHA-256, its rows,
 * columns and ids), then looks outputs up by example id; it never runs a model. A Distiller
 * trains with it exactly as with the live teacher (same bits, for float32 stores on the same
 * backend), and refuses it when a plugin changes the teacher's input. Throws `store-not-found`,
 * `store-bad-manifest`, `store-bad-shard` (naming the shard), `store-fingerprint-mismatch`.
 * The checks are those of `readStoredTeacher` (main entry) over the file system; in a browser,
 * `fetchStoredTeacher(url)` reads the same store over HTTP.
 */
export async function storedTeacher(dir: string, options: StoredTeacherOptions = {}): Promise<StoredTeacher> {
  const o = parseOptions(storedTeacherSchema, options, 'storedTeacher');
  // An unreadable manifest is thrown as it is; a shard that cannot be read is reported missing.
  const read = async (file: string): Promise<Uint8Array | undefined> =>
    readFile(join(dir, file)).catch((error: NodeJS.ErrnoException) => {
      if (file === 'manifest.json' && !missingFile(error)) throw error;
      return undefined;
    });
  return loadStore(read, { caller: 'storedTeacher', store: dir, locate: (file) => join(dir, file) }, o);
}

export { TeacherStoreError, type TeacherStoreErrorCode, teacherStoreErrorCodes } from './errors';
export type { StoreManifest } from './manifest';
/** The identity of the source of a store (description, size, example shape, values of in-memory tensors), as manifests record it. */
export { identityOf as sourceIdentity, type SourceIdentity } from './sourceCheck';
export type { StoredTeacher } from './storedTeacher';
/** Hex SHA-256 of a LayersModel (architecture and weights): the fingerprint stores record; from `@kd/core`. */
export { modelFingerprint };
