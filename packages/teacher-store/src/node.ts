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
  optionsSchema,
  parseOptions,
  type TeacherLike,
  tensorSource,
  toTeacher,
} from '@kd/core';
import { atomicWriteFile } from '@kd/core/node';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import { TeacherStoreError } from './errors';
import { parseManifest, type ShardEntry, STORE_VERSION, type StoreManifest } from './manifest';
import { decodeShard, encodeShard, tapWidth } from './shard';
import { type StoredTeacher, teacherFromShards } from './storedTeacher';

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
  /** Hex SHA-256 naming the teacher; required unless the teacher is a LayersModel (whose architecture and weights are hashed). */
  readonly fingerprint?: string;
  /** Called after each shard is on disk (or found complete). */
  readonly onShard?: (event: { readonly index: number; readonly shards: number; readonly skipped: boolean }) => void;
}

const hex = z.string().regex(/^[0-9a-f]{64}$/, { message: 'must be a lower-case hex SHA-256 (64 characters)' });

/** Schema of {@link PrecomputeOptions}. */
export const precomputeSchema = optionsSchema<PrecomputeOptions>()({
  taps: z.array(z.string().min(1)).default([]),
  dtype: z.enum(['float32', 'float16']).default('float32'),
  shardSize: z.number().int().positive().default(4096),
  batchSize: z.number().int().positive().default(256),
  fingerprint: hex.optional(),
  onShard: z.custom<PrecomputeOptions['onShard']>((v) => typeof v === 'function', { message: 'must be a function' }).optional(),
});

/**
 * Hex SHA-256 of a LayersModel's architecture (its JSON, with the model's and layers' names
 * replaced by their positions: tfjs numbers unnamed layers per process, so two loads of one model
 * differ in names only) and every weight's shape, dtype and bytes, in order (read with `data()`).
 */
export async function modelFingerprint(model: tfl.LayersModel): Promise<string> {
  const names = new Map<string, string>([[model.name, 'model']]);
  model.layers.forEach((layer, i) => names.set(layer.name, `layer${i}`));
  const canonical = (value: unknown): unknown => {
    if (typeof value === 'string') return names.get(value) ?? value;
    if (Array.isArray(value)) return value.map(canonical);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, canonical(v)]));
    return value;
  };
  const hash = createHash('sha256');
  hash.update(JSON.stringify(canonical(model.toJSON(null, false))));
  for (const w of model.weights) {
    const values = await w.read().data();
    hash.update(`\n${w.shape.join('x')}:${w.dtype}\n`);
    hash.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  }
  return hash.digest('hex');
}

const shardFile = (k: number) => `shard-${String(k).padStart(5, '0')}.arrow`;
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const PARTIAL = 'manifest.partial.json';

/**
 * Runs `teacher` once over every example of `source` (in position order, inference mode) and
 * writes its logits and `taps` to `dir`: Arrow IPC shards of `shardSize` examples keyed by
 * example id, then `manifest.json` (teacher and source fingerprints, shapes, dtype, count, shard
 * list with SHA-256s). Every file is written atomically (temporary file + rename) and
 * `manifest.json` last, so a killed run leaves whole shards only; a re-run with the same teacher,
 * source and options skips the shards already written (`manifest.partial.json` lists them) and a
 * complete store is returned as it is. Leaves no tensors behind.
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
  const fingerprint = o.fingerprint ?? (teacher instanceof tfl.LayersModel ? await modelFingerprint(teacher) : undefined);
  if (!fingerprint) {
    throw new TeacherStoreError(
      'store-no-fingerprint',
      `precomputeTeacher: ${live.description} is not a LayersModel, so its outputs cannot be fingerprinted; pass option "fingerprint" (a hex SHA-256 naming this teacher and its weights)`,
    );
  }
  const taps = live.tap(o.taps);
  const n = source.size;
  const probe = tf.tidy(
    () => live.predict(tf.zeros([1, ...(source.teacherExampleShape ?? source.exampleShape)]), { ids: [0] }).logits.shape[1]!,
  );
  const layout = { numClasses: probe, taps, dtype: o.dtype } as const;
  const identity = JSON.stringify({ fingerprint, size: n, layout, shardSize: o.shardSize });
  await mkdir(dir, { recursive: true });
  const finished = await readFile(join(dir, 'manifest.json'), 'utf8').catch(() => undefined);
  if (finished !== undefined) {
    const manifest = parseManifest(finished, join(dir, 'manifest.json'));
    if (
      manifest.teacher.fingerprint === fingerprint &&
      manifest.source.size === n &&
      manifest.dtype === o.dtype &&
      JSON.stringify(manifest.taps) === JSON.stringify(taps)
    ) {
      return manifest;
    }
    throw new TeacherStoreError(
      'store-fingerprint-mismatch',
      `precomputeTeacher: ${dir} already holds a complete store of another run (teacher ${manifest.teacher.fingerprint.slice(0, 12)}…, ${manifest.source.size} examples, ${manifest.dtype}); this one is teacher ${fingerprint.slice(0, 12)}…, ${n} examples, ${o.dtype}. Use another directory or remove it`,
    );
  }
  // Shards of an interrupted run with the same identity, each checked against its digest.
  const done = new Map<number, ShardEntry & { ids: ExampleId[] }>();
  const partial = await readFile(join(dir, PARTIAL), 'utf8').catch(() => undefined);
  if (partial !== undefined) {
    const saved = JSON.parse(partial) as { identity: string; shards: Record<string, ShardEntry & { ids: ExampleId[] }> };
    if (saved.identity === identity) {
      for (const [k, entry] of Object.entries(saved.shards)) {
        const bytes = await readFile(join(dir, entry.file)).catch(() => undefined);
        if (bytes && sha256(bytes) === entry.sha256) done.set(Number(k), entry);
      }
    }
  }
  const shards = Math.ceil(n / o.shardSize);
  let idType: 'number' | 'string' | undefined;
  const kindOf = (ids: readonly ExampleId[]) => {
    for (const id of ids) {
      const kind = typeof id === 'number' ? 'number' : 'string';
      idType ??= kind;
      if (kind !== idType)
        throw new TeacherStoreError(
          'store-mixed-ids',
          `precomputeTeacher: ${source.description ?? 'the source'} yields both number and string ids (${JSON.stringify(id)})`,
        );
    }
  };
  for (const entry of done.values()) kindOf(entry.ids);
  const save = async () =>
    atomicWriteFile(
      join(dir, PARTIAL),
      JSON.stringify({ identity, shards: Object.fromEntries([...done].map(([k, v]) => [String(k), v])) }),
    );
  const runShard = async (k: number, batches: () => Promise<{ ids: readonly ExampleId[]; x: tf.Tensor }>, count: number) => {
    const rows = Math.min(o.shardSize, n - k * o.shardSize);
    const logits = new Float32Array(rows * layout.numClasses);
    const tapped = Object.fromEntries(Object.entries(taps).map(([name, shape]) => [name, new Float32Array(rows * tapWidth(shape))]));
    const ids: ExampleId[] = [];
    for (let b = 0; b < count; b++) {
      const { ids: batchIds, x } = await batches();
      const at = ids.length;
      const out = tf.tidy(() => {
        const p = live.predict(x, { ids: batchIds });
        return {
          logits: p.logits.dataSync() as Float32Array,
          features: Object.fromEntries(Object.keys(taps).map((t) => [t, p.features[t]!.dataSync() as Float32Array])),
        };
      });
      x.dispose();
      logits.set(out.logits, at * layout.numClasses);
      for (const [name, shape] of Object.entries(taps)) tapped[name]!.set(out.features[name]!, at * tapWidth(shape));
      ids.push(...batchIds);
    }
    kindOf(ids);
    const bytes = encodeShard({ ids, logits, taps: tapped }, layout);
    await atomicWriteFile(join(dir, shardFile(k)), bytes);
    done.set(k, { file: shardFile(k), rows, sha256: sha256(bytes), ids });
    await save();
  };
  const batchesPerShard = (k: number) => Math.ceil(Math.min(o.shardSize, n - k * o.shardSize) / o.batchSize);
  const what = 'precomputeTeacher: source';
  if (isRandomAccess(source)) {
    for (let k = 0; k < shards; k++) {
      if (!done.has(k)) {
        const start = k * o.shardSize;
        const order = Int32Array.from({ length: Math.min(o.shardSize, n - start) }, (_, i) => start + i);
        const reader = new BatchReader(source, { order, batchSize: o.batchSize, prefetch: 2, what, numClasses: Number.POSITIVE_INFINITY });
        try {
          await runShard(
            k,
            async () => {
              const { batch } = await reader.next();
              const t = batchTensors(source, batch);
              t.y.dispose();
              if (t.teacherX) t.x.dispose();
              return { ids: batch.ids, x: t.teacherX ?? t.x };
            },
            batchesPerShard(k),
          );
        } finally {
          await reader.close();
        }
      }
      o.onShard?.({ index: k, shards, skipped: false });
    }
  } else {
    // A stream is read front to back once; batches of shards already on disk are passed over.
    const order = Int32Array.from({ length: n }, (_, i) => i);
    const reader = new BatchReader(source, { order, batchSize: o.batchSize, prefetch: 2, what, numClasses: Number.POSITIVE_INFINITY });
    try {
      for (let k = 0; k < shards; k++) {
        if (done.has(k)) {
          for (let b = 0; b < batchesPerShard(k); b++) await reader.next();
          o.onShard?.({ index: k, shards, skipped: true });
          continue;
        }
        await runShard(
          k,
          async () => {
            const { batch } = await reader.next();
            const t = batchTensors(source, batch);
            t.y.dispose();
            if (t.teacherX) t.x.dispose();
            return { ids: batch.ids, x: t.teacherX ?? t.x };
          },
          batchesPerShard(k),
        );
        o.onShard?.({ index: k, shards, skipped: false });
      }
    } finally {
      await reader.close();
    }
  }
  const idsHash = createHash('sha256');
  const entries: ShardEntry[] = [];
  for (let k = 0; k < shards; k++) {
    const entry = done.get(k)!;
    for (const id of entry.ids) idsHash.update(`${JSON.stringify(id)}\n`);
    entries.push({ file: entry.file, rows: entry.rows, sha256: entry.sha256 });
  }
  const manifest: StoreManifest = {
    format: 'kd-teacher-store',
    version: STORE_VERSION,
    teacher: { description: live.description, fingerprint },
    source: {
      description: source.description ?? 'a DataSource',
      size: n,
      exampleShape: [...source.exampleShape],
      idsSha256: idsHash.digest('hex'),
    },
    numClasses: layout.numClasses,
    taps,
    dtype: o.dtype,
    idType: idType ?? 'number',
    backend: tf.getBackend(),
    shards: entries,
  };
  await atomicWriteFile(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** Options of {@link storedTeacher}. */
export interface StoredTeacherOptions {
  /** Check the store against this teacher's fingerprint (a LayersModel) before anything is read. */
  readonly teacher?: tfl.LayersModel;
  /** Or against a given fingerprint. */
  readonly fingerprint?: string;
}

/** Schema of {@link StoredTeacherOptions}. */
export const storedTeacherSchema = optionsSchema<StoredTeacherOptions>()({
  teacher: z.custom<tfl.LayersModel>((v) => v instanceof tfl.LayersModel, { message: 'must be a LayersModel' }).optional(),
  fingerprint: hex.optional(),
});

/**
 * The teacher of a store written by {@link precomputeTeacher} (or any writer following the
 * format): reads `manifest.json` and every shard (each checked against its SHA-256, its rows,
 * columns and ids), then looks outputs up by example id; it never runs a model. A Distiller
 * trains with it exactly as with the live teacher (same bits, for float32 stores on the same
 * backend), and refuses it when a plugin changes the teacher's input. Throws `store-not-found`,
 * `store-bad-manifest`, `store-bad-shard` (naming the shard), `store-fingerprint-mismatch`.
 */
export async function storedTeacher(dir: string, options: StoredTeacherOptions = {}): Promise<StoredTeacher> {
  const o = parseOptions(storedTeacherSchema, options, 'storedTeacher');
  const path = join(dir, 'manifest.json');
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
    throw error;
  });
  if (text === undefined) {
    throw new TeacherStoreError(
      'store-not-found',
      `storedTeacher: ${path} does not exist (no store there, or precomputeTeacher has not finished)`,
    );
  }
  const manifest = parseManifest(text, path);
  const expected = o.fingerprint ?? (o.teacher ? await modelFingerprint(o.teacher) : undefined);
  if (expected && expected !== manifest.teacher.fingerprint) {
    throw new TeacherStoreError(
      'store-fingerprint-mismatch',
      `storedTeacher: ${dir} holds the outputs of teacher ${manifest.teacher.fingerprint} (${manifest.teacher.description}), not of ${expected}`,
    );
  }
  const shards = [];
  const seen = new Set<ExampleId>();
  for (const entry of manifest.shards) {
    const file = join(dir, entry.file);
    const bytes = await readFile(file).catch(() => undefined);
    if (!bytes) throw new TeacherStoreError('store-bad-shard', `storedTeacher: shard ${file} listed in the manifest is missing`);
    if (sha256(bytes) !== entry.sha256) {
      throw new TeacherStoreError(
        'store-bad-shard',
        `storedTeacher: shard ${file} is not the file the manifest lists (SHA-256 differs: truncated or replaced)`,
      );
    }
    const rows = decodeShard(bytes, manifest, file, entry.rows);
    for (const id of rows.ids) {
      if (seen.has(id))
        throw new TeacherStoreError('store-bad-shard', `storedTeacher: shard ${file} repeats example id ${JSON.stringify(id)}`);
      seen.add(id);
    }
    shards.push(rows);
  }
  return teacherFromShards(manifest, shards, `stored teacher "${dir}" (${manifest.teacher.description})`);
}

export { TeacherStoreError, type TeacherStoreErrorCode, teacherStoreErrorCodes } from './errors';
export type { StoreManifest } from './manifest';
export type { StoredTeacher } from './storedTeacher';
