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
  type SourceBatch,
  type TeacherLike,
  tensorSource,
  tensorsFingerprint,
  toTeacher,
} from '@kd/core';
import { atomicWriteFile } from '@kd/core/node';
import * as tf from '@tensorflow/tfjs-core';
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
  /**
   * Hex SHA-256 naming the teacher; required unless the teacher has a fingerprint of its own
   * (a LayersModel or an ensemble of them: architecture and weights are hashed, see `modelFingerprint`).
   */
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

const shardFile = (k: number) => `shard-${String(k).padStart(5, '0')}.arrow`;
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const PARTIAL = 'manifest.partial.json';

/** What a store says of its source, to compare with the source at hand. */
interface SourceIdentity {
  readonly description: string;
  readonly size: number;
  readonly exampleShape: readonly number[];
  readonly contentSha256?: string;
}

async function identityOf(data: DataSource | LabeledData, source: DataSource): Promise<SourceIdentity> {
  return {
    description: source.description ?? 'a DataSource',
    size: source.size,
    exampleShape: [...source.exampleShape],
    ...(isDataSource(data) ? {} : { contentSha256: await tensorsFingerprint([data.x, data.y, data.teacherX]) }),
  };
}

/** Why two source identities differ, or undefined. */
function sourceDifference(stored: SourceIdentity, given: SourceIdentity): string | undefined {
  for (const key of ['description', 'size', 'exampleShape', 'contentSha256'] as const) {
    const a = JSON.stringify(stored[key] ?? null);
    const b = JSON.stringify(given[key] ?? null);
    if (a !== b) return `${key} ${a} (store) vs ${b} (given)`;
  }
  return undefined;
}

/**
 * Spot-checks that a random-access source holds `ids[0]` of every shard at the shard's first
 * position (one example read per shard), naming the first difference.
 */
async function spotCheck(source: DataSource, firsts: readonly { position: number; id: ExampleId }[], where: string): Promise<void> {
  if (!isRandomAccess(source) || firsts.length === 0) return;
  const positions = Int32Array.from(firsts, (f) => f.position);
  const read = await source.read(positions);
  firsts.forEach((f, i) => {
    if (read.ids[i] !== f.id) {
      throw new TeacherStoreError(
        'store-source-mismatch',
        `${where}: position ${f.position} of ${source.description ?? 'the source'} is example ${JSON.stringify(read.ids[i])}, the store has ${JSON.stringify(f.id)} there`,
      );
    }
  });
}

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
  const taps = Object.fromEntries(Object.entries(live.tap(o.taps)).sort(([a], [b]) => (a < b ? -1 : 1)));
  const n = source.size;
  const numClasses =
    live.numClasses ??
    tf.tidy(() => live.predict(tf.zeros([1, ...(source.teacherExampleShape ?? source.exampleShape)]), { ids: [0] }).logits.shape[1]!);
  const layout = { numClasses, taps, dtype: o.dtype } as const;
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
    await atomicWriteFile(join(dir, shardFile(k)), bytes);
    done.set(k, { file: shardFile(k), rows, sha256: sha256(bytes), ids });
    await save();
  };
  const tensorsOf = (batch: SourceBatch) => {
    const t = batchTensors(source, batch);
    t.y.dispose();
    if (t.teacherX) t.x.dispose();
    return { ids: batch.ids, x: t.teacherX ?? t.x };
  };
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
    source: { ...given, idsSha256: idsHash.digest('hex') },
    numClasses,
    taps,
    dtype: o.dtype,
    idType: idType ?? 'number',
    backend: tf.getBackend(),
    shards: entries,
  };
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  parseManifest(text, 'precomputeTeacher: the manifest it would write'); // never write one the reader refuses
  await atomicWriteFile(join(dir, 'manifest.json'), text);
  return manifest;
}

/** Options of {@link storedTeacher}. */
export interface StoredTeacherOptions {
  /** Check the store against this teacher's fingerprint (a LayersModel, an ensemble of them) before anything is read. */
  readonly teacher?: TeacherLike;
  /** Or against a given fingerprint. */
  readonly fingerprint?: string;
  /**
   * Check the store against the data it will be used with: description, size, example shape, the
   * values of in-memory tensors, and (random access) the id at each shard's first position.
   */
  readonly source?: DataSource | LabeledData;
}

/** Schema of {@link StoredTeacherOptions}. */
export const storedTeacherSchema = optionsSchema<StoredTeacherOptions>()({
  teacher: z.custom<TeacherLike>((v) => v !== null && v !== undefined, { message: 'must be a teacher' }).optional(),
  fingerprint: hex.optional(),
  source: z
    .custom<DataSource | LabeledData>((v) => typeof v === 'object' && v !== null, { message: 'must be a DataSource or { x, y } tensors' })
    .optional(),
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
  const check = o.teacher === undefined ? undefined : toTeacher(o.teacher);
  if (check && !check.fingerprint) {
    throw new TeacherStoreError(
      'store-no-fingerprint',
      `storedTeacher: option "teacher" (${check.description}) has no fingerprint to check the store against; pass option "fingerprint"`,
    );
  }
  const expected = o.fingerprint ?? (await check?.fingerprint?.());
  if (expected && expected !== manifest.teacher.fingerprint) {
    throw new TeacherStoreError(
      'store-fingerprint-mismatch',
      `storedTeacher: ${dir} holds the outputs of teacher ${manifest.teacher.fingerprint} (${manifest.teacher.description}), not of ${expected}`,
    );
  }
  if (o.teacher && o.fingerprint) {
    throw new DistillationError('bad-option', 'storedTeacher: give option "teacher" or option "fingerprint", not both');
  }
  const given = o.source && (isDataSource(o.source) ? o.source : tensorSource(o.source));
  if (o.source && given) {
    const difference = sourceDifference(manifest.source, await identityOf(o.source, given));
    if (difference) {
      throw new TeacherStoreError(
        'store-source-mismatch',
        `storedTeacher: ${dir} was computed on ${manifest.source.description}, not on the source given: ${difference}`,
      );
    }
  }
  const shards = [];
  const seen = new Set<ExampleId>();
  const idsHash = createHash('sha256');
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
      idsHash.update(`${JSON.stringify(id)}\n`);
    }
    shards.push(rows);
  }
  if (idsHash.digest('hex') !== manifest.source.idsSha256) {
    throw new TeacherStoreError(
      'store-bad-shard',
      `storedTeacher: the ids in ${dir}'s shards are not those its manifest records (source.idsSha256)`,
    );
  }
  if (given) {
    let position = 0;
    const firsts = shards.map((rows) => {
      const first = { position, id: rows.ids[0]! };
      position += rows.ids.length;
      return first;
    });
    await spotCheck(given, firsts, `storedTeacher: ${dir}`);
  }
  return teacherFromShards(manifest, shards, `stored teacher "${dir}" (${manifest.teacher.description})`);
}

export { TeacherStoreError, type TeacherStoreErrorCode, teacherStoreErrorCodes } from './errors';
export type { StoreManifest } from './manifest';
export type { StoredTeacher } from './storedTeacher';
/** Hex SHA-256 of a LayersModel (architecture and weights): the fingerprint stores record; from `@kd/core`. */
export { modelFingerprint };
