import { createHash } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  type DataSource,
  isDataSource,
  isRandomAccess,
  type LabeledData,
  type RandomAccessSource,
  type Teacher,
  tensorSource,
  toTeacher,
} from '@kd/core';
import { loadModel } from '@kd/core/node';
import type { SourceIdentity, StoreLayout } from '@kd/teacher-store/node';
import * as tf from '@tensorflow/tfjs-core';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { FleetError } from './errors';
import type { RedisConnectionOptions } from './redis';

/** Environment a worker gives its sandboxed children (see `startWorker`). */
export const CHILD_ENV = {
  connection: 'KD_FLEET_CONNECTION',
  prefix: 'KD_FLEET_PREFIX',
  queue: 'KD_FLEET_QUEUE',
  backendModule: 'KD_FLEET_BACKEND_MODULE',
} as const;

/** Format of the run record a coordinator keeps in Redis. */
export const RUN_FORMAT = 'kd-fleet-run' as const;

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const dims = z.tuple([z.null()], z.number().int().positive());

/** Schema of {@link FleetRun}: checked whenever a worker or a reader takes a run from Redis. */
export const fleetRunSchema = z.strictObject({
  format: z.literal(RUN_FORMAT),
  version: z.literal(1),
  /** SHA-256 of everything below but `createdAt`: a coordinator restarted with the same options finds its run. */
  id: hex64,
  teacher: z.string().min(1),
  source: z.string().min(1),
  out: z.string().min(1),
  shardSize: z.number().int().positive(),
  batchSize: z.number().int().positive(),
  backend: z.string().min(1),
  fingerprint: hex64,
  teacherDescription: z.string(),
  layout: z.strictObject({
    numClasses: z.number().int().positive(),
    taps: z.record(z.string(), dims),
    dtype: z.enum(['float32', 'float16']),
  }),
  sourceIdentity: z.strictObject({
    description: z.string(),
    size: z.number().int().positive(),
    exampleShape: z.array(z.number().int().positive()),
    contentSha256: hex64.optional(),
  }),
  idType: z.enum(['number', 'string']),
  shards: z.number().int().positive(),
  createdAt: z.string(),
});

/**
 * What a coordinator fixed at its start, kept in Redis for workers and readers: the teacher
 * directory and source module (paths on every worker's file system), the output directory, the
 * store layout and fingerprints. Jobs name the run by `id` and carry ranges only.
 */
export type FleetRun = z.infer<typeof fleetRunSchema>;

/** Redis keys of one queue's run (BullMQ's own keys are under `bull:<queue>`). */
export function runKeys(prefix: string, queue: string) {
  const base = `${prefix}:${queue}`;
  return { run: `${base}:run`, done: `${base}:done`, complete: `${base}:complete` };
}

/** One shard's completion, as the worker that wrote it reports it (the job's return value). */
export const completionSchema = z.strictObject({
  run: hex64,
  shard: z.number().int().nonnegative(),
  rows: z.number().int().positive(),
  sha256: hex64,
  firstId: z.union([z.number(), z.string()]),
  backend: z.string(),
  fingerprint: hex64,
  worker: z.string(),
  ms: z.number().nonnegative(),
});

/** A shard's completion: its digest, rows, first id, and which worker (backend, teacher fingerprint) wrote it. */
export type ShardCompletion = z.infer<typeof completionSchema>;

/** The payload of a shard job: the run id and a position range, nothing else. */
export const jobSchema = z.strictObject({
  run: hex64,
  shard: z.number().int().nonnegative(),
  start: z.number().int().nonnegative(),
  end: z.number().int().positive(),
});

/** The payload of a shard job. */
export type ShardJob = z.infer<typeof jobSchema>;

/** Reads and checks the run record of a queue; `undefined` when there is none. */
export async function readRun(redis: Redis, key: string, where: string): Promise<FleetRun | undefined> {
  const text = await redis.get(key);
  if (text === null) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new FleetError('fleet-run-mismatch', `${where}: the run record at ${key} is not JSON`, { cause: error });
  }
  const parsed = fleetRunSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new FleetError(
      'fleet-run-mismatch',
      `${where}: the run record at ${key} is not a kd fleet run (${issue.path.join('.')}: ${issue.message})`,
    );
  }
  return parsed.data;
}

/** SHA-256 (hex) of a string. */
export const sha256Hex = (text: string | Uint8Array) => createHash('sha256').update(text).digest('hex');

/** An absolute path (relative ones resolved from the working directory). */
export const absolute = (path: string) => (isAbsolute(path) ? path : resolve(path));

/** Loads the teacher directory (`model.json` + weights) as a {@link Teacher}; `dispose` frees its weights. */
export async function loadTeacher(dir: string): Promise<{ teacher: Teacher; dispose: () => void }> {
  const model = await loadModel(dir);
  return { teacher: toTeacher(model), dispose: () => model.dispose() };
}

/**
 * Loads a source module: its default export or its `source` export, a DataSource or `{ x, y }`
 * tensors, or a function (sync or async) returning one. The fleet needs random access (shards are
 * position ranges read by different workers). Throws `fleet-bad-source-module`. `close` closes a
 * source the module's function made (an exported source stays open: the module owns it).
 */
export async function loadSource(
  path: string,
): Promise<{ data: DataSource | LabeledData; source: RandomAccessSource; close: () => Promise<void> }> {
  const module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  let value = module.source ?? module.default;
  const made = typeof value === 'function'; // a source made here is closed here; an exported one stays the module's
  if (made) value = await (value as () => unknown)();
  const tensors = (v: unknown): v is LabeledData => typeof v === 'object' && v !== null && (v as LabeledData).x instanceof tf.Tensor;
  if (!isDataSource(value) && !tensors(value)) {
    throw new FleetError(
      'fleet-bad-source-module',
      `${path}: exports no DataSource or { x, y } tensors (export default, or export const source, a value or a function returning one)`,
    );
  }
  const source = isDataSource(value) ? value : tensorSource(value);
  if (!isRandomAccess(source)) {
    throw new FleetError(
      'fleet-bad-source-module',
      `${path}: ${source.description ?? 'the source'} can only be read front to back; a fleet reads position ranges on many workers (random access)`,
    );
  }
  return { data: value, source, close: async () => (made ? await source.close?.() : undefined) };
}

/** Imports a backend module (registers a tfjs backend) and selects `backend`; throws `fleet-backend-mismatch` when it is not there. */
export async function selectBackend(backend: string, module: string | undefined, where: string): Promise<void> {
  if (module) await import(module);
  const ok = await tf.setBackend(backend).catch(() => false);
  if (!ok || tf.getBackend() !== backend) {
    throw new FleetError(
      'fleet-backend-mismatch',
      `${where}: the run uses tfjs backend "${backend}", which is not available here (backend module ${module ? JSON.stringify(module) : 'none'}; active: ${tf.getBackend()})`,
    );
  }
}

/**
 * The ioredis client of a connection. ioredis reconnects by itself and every command of a lost
 * connection rejects (and is reported there), so its `error` events are not reported twice.
 */
export function connect(connection: RedisConnectionOptions): Redis {
  const redis = new Redis({ ...connection });
  redis.on('error', () => {});
  return redis;
}

export type { SourceIdentity, StoreLayout };
