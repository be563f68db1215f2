import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ExampleId, optionsSchema, parseOptions } from '@kd/core';
import { atomicWriteFile } from '@kd/core/node';
import { decodeShard, parseManifest, type StoreManifest } from '@kd/teacher-store';
import { sourceIdentity, storeLayout, storeManifest } from '@kd/teacher-store/node';
import * as tf from '@tensorflow/tfjs-core';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { FleetError } from './errors';
import { planShards, shardFile } from './plan';
import { connectionFields, redisConnection } from './redis';
import {
  absolute,
  completionSchema,
  connect,
  type FleetRun,
  loadSource,
  loadTeacher,
  RUN_FORMAT,
  readRun,
  runKeys,
  type ShardCompletion,
  selectBackend,
  sha256Hex,
} from './run';

/** Options of {@link runCoordinator}. */
export interface CoordinatorOptions {
  /** `redis://` or `rediss://` URL (see `redisConnection`). */
  readonly redis: string;
  /** Passed through to ioredis (e.g. `{ tls: { ca } }`). */
  readonly redisOptions?: Readonly<Record<string, unknown>>;
  /** BullMQ queue name (one run per queue). Default `kd-fleet`. */
  readonly queue?: string;
  /** Prefix of kd's own Redis keys. Default `kd-fleet`. */
  readonly prefix?: string;
  /** The teacher: a directory with `model.json` + weights, at this path on every worker. */
  readonly teacher: string;
  /**
   * The source: a module (at this path on every worker) whose default or `source` export is a
   * random-access DataSource or `{ x, y }` tensors, or a function returning one.
   */
  readonly source: string;
  /** The store directory, shared by all workers (a network file system, a synced bucket). */
  readonly out: string;
  /** Teacher layers to record besides the logits. Default none. */
  readonly taps?: readonly string[];
  /** `float32` (default) or `float16`. */
  readonly dtype?: 'float32' | 'float16';
  /** Examples per shard (= per job). Default 4096; a multiple of `batchSize`. */
  readonly shardSize?: number;
  /** Examples per teacher forward pass. Default 256. */
  readonly batchSize?: number;
  /** The tfjs backend every worker must run (bit-for-bit equal shards need one backend). Default `cpu`. */
  readonly backend?: string;
  /** A module imported to register `backend` here. Default `@tensorflow/tfjs-backend-cpu`. */
  readonly backendModule?: string;
  /** Attempts per shard job before the run fails. Default 3. */
  readonly attempts?: number;
  /** Milliseconds between looks at the queue. Default 250. */
  readonly pollMs?: number;
  /** Give up after this many milliseconds (`fleet-timeout`). Default: wait for ever. */
  readonly timeoutMs?: number;
  /** Called whenever more shards are complete. */
  readonly onProgress?: (event: { readonly done: number; readonly shards: number; readonly examples: number }) => void;
}

/** Schema of {@link CoordinatorOptions}. */
export const coordinatorSchema = optionsSchema<CoordinatorOptions>()({
  ...connectionFields,
  teacher: z.string().min(1),
  source: z.string().min(1),
  out: z.string().min(1),
  taps: z.array(z.string().min(1)).default([]),
  dtype: z.enum(['float32', 'float16']).default('float32'),
  shardSize: z.number().int().positive().default(4096),
  batchSize: z.number().int().positive().default(256),
  backend: z.string().min(1).default('cpu'),
  backendModule: z.string().min(1).default('@tensorflow/tfjs-backend-cpu'),
  attempts: z.number().int().positive().default(3),
  pollMs: z.number().int().positive().default(250),
  timeoutMs: z.number().int().positive().optional(),
  onProgress: z.custom<CoordinatorOptions['onProgress']>((v) => typeof v === 'function', { message: 'must be a function' }).optional(),
});

/** What {@link runCoordinator} returns: the manifest it wrote, and the completions it verified. */
export interface CoordinatorResult {
  readonly manifest: StoreManifest;
  readonly completions: readonly ShardCompletion[];
  /** Whether the run was complete in Redis already (a restarted coordinator of a finished run). */
  readonly alreadyComplete: boolean;
}

/**
 * What a fleet adds to `manifest.json` (key `fleet`; readers of store format 1 ignore it): the
 * run, the id order of the shards (`position`: the source's order, as `precomputeTeacher`), the
 * SHA-256 of the ids (JSON) sorted by code point (the same for any order of the same ids), the
 * one backend every worker ran and the workers that completed shards.
 */
export interface FleetManifestRecord {
  readonly run: string;
  readonly idOrder: 'position';
  readonly idsCodePointSortedSha256: string;
  readonly backend: string;
  readonly workers: readonly string[];
}

/** Compares strings by Unicode code point (not UTF-16 unit, not locale): the same on every machine. */
export function codePointCompare(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/** Job id of a shard of a run (BullMQ ignores a job added again with the same id). */
const jobId = (run: FleetRun, shard: number) => `${run.id.slice(0, 16)}-${shard}`;

/**
 * Runs a fleet's coordinator: loads the teacher and source once (fingerprint, layout, ids),
 * records the run in Redis, puts one job per shard on the queue (position ranges only), collects
 * the workers' completions, verifies the store (every shard's digest, rows, columns and ids;
 * every id exactly once; one backend and teacher fingerprint) and writes `manifest.json` last:
 * the commit point. Restarted with the same options, it continues from Redis' state (a finished
 * run returns its manifest); other options on the same queue are `fleet-run-mismatch`.
 */
export async function runCoordinator(options: CoordinatorOptions): Promise<CoordinatorResult> {
  const o = parseOptions(coordinatorSchema, options, 'runCoordinator');
  if (o.shardSize % o.batchSize !== 0) {
    throw new FleetError(
      'fleet-bad-job',
      `runCoordinator: option "shardSize" (${o.shardSize}) must be a multiple of option "batchSize" (${o.batchSize})`,
    );
  }
  const connection = redisConnection(o.redis, o.redisOptions);
  const keys = runKeys(o.prefix, o.queue);
  const redis = connect(connection);
  const queue = new Queue(o.queue, { connection: { ...connection } });
  try {
    await selectBackend(o.backend, o.backendModule, 'runCoordinator');
    const run = await planRun(o);
    const stored = await claimRun(redis, keys.run, run);
    const plan = planShards(run.sourceIdentity.size, run.shardSize);
    const complete = await redis.get(keys.complete);
    if (complete !== null) {
      const text = await readFile(join(run.out, 'manifest.json'), 'utf8').catch(() => undefined);
      if (text !== undefined && sha256Hex(text) === complete) {
        const completions = Object.values(await redis.hgetall(keys.done)).map((v) => completionSchema.parse(JSON.parse(v)));
        parseManifest(text, join(run.out, 'manifest.json')); // checked; returned with the fleet's own key
        return { manifest: JSON.parse(text) as StoreManifest, completions, alreadyComplete: true };
      }
    }
    const done = new Map<number, ShardCompletion>();
    for (const [k, v] of Object.entries(await redis.hgetall(keys.done))) done.set(Number(k), completionSchema.parse(JSON.parse(v)));
    const missing = plan.filter((s) => !done.has(s.shard));
    await queue.addBulk(
      missing.map((s) => ({
        name: 'shard',
        data: { run: stored.id, shard: s.shard, start: s.start, end: s.end },
        opts: {
          jobId: jobId(stored, s.shard),
          attempts: o.attempts,
          backoff: { type: 'fixed', delay: 500 },
          removeOnComplete: false,
          removeOnFail: false,
        },
      })),
    );
    await collect(o, queue, redis, keys.done, stored, plan.length, done);
    const manifest = await verify(stored, done);
    const text = `${JSON.stringify(manifest, null, 2)}\n`;
    await atomicWriteFile(join(stored.out, 'manifest.json'), text);
    await redis.set(keys.complete, sha256Hex(text));
    return { manifest, completions: [...done.values()].sort((a, b) => a.shard - b.shard), alreadyComplete: false };
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

/** The run the options describe (without touching Redis). */
async function planRun(o: z.output<typeof coordinatorSchema>): Promise<FleetRun> {
  const teacherDir = absolute(o.teacher);
  const sourcePath = absolute(o.source);
  const { teacher, dispose } = await loadTeacher(teacherDir);
  try {
    const fingerprint = (await teacher.fingerprint?.())!;
    const { data, source, close } = await loadSource(sourcePath);
    const layout = storeLayout(teacher, source, { taps: o.taps, dtype: o.dtype });
    const identity = await sourceIdentity(data, source);
    const first = (await source.read(Int32Array.of(0))).ids[0];
    const parts = {
      format: RUN_FORMAT,
      version: 1 as const,
      teacher: teacherDir,
      source: sourcePath,
      out: absolute(o.out),
      shardSize: o.shardSize,
      batchSize: o.batchSize,
      backend: o.backend,
      fingerprint,
      teacherDescription: teacher.description,
      layout: { numClasses: layout.numClasses, taps: layout.taps as Record<string, [null, ...number[]]>, dtype: layout.dtype },
      sourceIdentity: { ...identity, exampleShape: [...identity.exampleShape] },
      idType: typeof first === 'string' ? ('string' as const) : ('number' as const),
      shards: planShards(source.size, o.shardSize).length,
    };
    await close();
    return { ...parts, id: sha256Hex(JSON.stringify(parts)), createdAt: new Date().toISOString() };
  } finally {
    dispose();
  }
}

/** Records the run in Redis (or finds the same run there); another run on the queue is `fleet-run-mismatch`. */
async function claimRun(redis: Redis, key: string, run: FleetRun): Promise<FleetRun> {
  await redis.set(key, JSON.stringify(run), 'NX');
  const stored = (await readRun(redis, key, 'runCoordinator'))!;
  if (stored.id !== run.id) {
    const differs = (
      ['teacher', 'source', 'out', 'shardSize', 'batchSize', 'backend', 'fingerprint', 'layout', 'sourceIdentity'] as const
    ).filter((k) => JSON.stringify(stored[k]) !== JSON.stringify(run[k]));
    throw new FleetError(
      'fleet-run-mismatch',
      `runCoordinator: queue ${key} holds another run (started ${stored.createdAt}; differs in ${differs.join(', ') || 'id'}); use another queue or remove that run`,
    );
  }
  return stored;
}

/** Waits until every shard has a completion; records each (first one wins) in the `done` hash. */
async function collect(
  o: z.output<typeof coordinatorSchema>,
  queue: Queue,
  redis: Redis,
  doneKey: string,
  run: FleetRun,
  shards: number,
  done: Map<number, ShardCompletion>,
): Promise<void> {
  const started = Date.now();
  let reported = -1;
  while (true) {
    for (const job of await queue.getJobs(['completed'], 0, -1)) {
      const value = completionSchema.safeParse(job.returnvalue);
      if (!value.success || value.data.run !== run.id || done.has(value.data.shard)) continue;
      await redis.hsetnx(doneKey, String(value.data.shard), JSON.stringify(value.data));
      done.set(value.data.shard, completionSchema.parse(JSON.parse((await redis.hget(doneKey, String(value.data.shard)))!)));
    }
    if (done.size !== reported) {
      reported = done.size;
      const examples = [...done.values()].reduce((a, c) => a + c.rows, 0);
      o.onProgress?.({ done: done.size, shards, examples });
    }
    if (done.size === shards) return;
    for (const job of await queue.getJobs(['failed'], 0, -1)) {
      if (job.data?.run === run.id && !done.has(job.data.shard)) {
        throw new FleetError(
          'fleet-shard-failed',
          `runCoordinator: shard ${job.data.shard} failed ${job.attemptsMade} time(s); last error: ${job.failedReason}`,
        );
      }
    }
    if (o.timeoutMs !== undefined && Date.now() - started > o.timeoutMs) {
      throw new FleetError('fleet-timeout', `runCoordinator: ${done.size} of ${shards} shards complete after ${o.timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, o.pollMs));
  }
}

/**
 * Verifies a finished run before it is committed: each shard's file has its completion's
 * digest, rows and columns (decoded), its first id is the one its worker reported, every id is
 * there exactly once, and every worker ran the run's backend and teacher. Returns the manifest.
 */
async function verify(run: FleetRun, done: ReadonlyMap<number, ShardCompletion>): Promise<StoreManifest> {
  const fail = (why: string) => new FleetError('fleet-verify-failed', `runCoordinator: verifying ${run.out}: ${why}`);
  const plan = planShards(run.sourceIdentity.size, run.shardSize);
  const seen = new Set<ExampleId>();
  const entries: { file: string; rows: number; sha256: string; ids: ExampleId[] }[] = [];
  for (const s of plan) {
    const c = done.get(s.shard);
    if (!c) throw fail(`shard ${s.shard} has no completion`);
    if (c.backend !== run.backend)
      throw fail(`shard ${s.shard} was computed on backend ${c.backend} (${c.worker}), the run uses ${run.backend}`);
    if (c.fingerprint !== run.fingerprint) throw fail(`shard ${s.shard} was computed by another teacher (${c.worker})`);
    const file = shardFile(s.shard);
    const bytes = await readFile(join(run.out, file)).catch(() => undefined);
    if (!bytes) throw fail(`${file} is missing`);
    if (sha256Hex(bytes) !== c.sha256)
      throw fail(`${file} is not the file its worker (${c.worker}) completed (SHA-256 differs: torn, replaced or still syncing)`);
    const rows = decodeShard(bytes, { ...run.layout, idType: run.idType }, file, s.end - s.start);
    if (rows.ids[0] !== c.firstId)
      throw fail(`${file} starts with id ${JSON.stringify(rows.ids[0])}, its worker reported ${JSON.stringify(c.firstId)}`);
    for (const id of rows.ids) {
      if (seen.has(id)) throw fail(`example id ${JSON.stringify(id)} is in two places (again in ${file})`);
      seen.add(id);
    }
    entries.push({ file, rows: rows.ids.length, sha256: c.sha256, ids: [...rows.ids] });
  }
  if (seen.size !== run.sourceIdentity.size) throw fail(`${seen.size} ids, the source has ${run.sourceIdentity.size}`);
  const manifest = storeManifest({
    teacher: { description: run.teacherDescription, fingerprint: run.fingerprint },
    source: run.sourceIdentity,
    layout: run.layout,
    idType: run.idType,
    backend: run.backend,
    shards: entries,
  });
  if (tf.getBackend() !== run.backend) throw fail(`the coordinator runs ${tf.getBackend()}`);
  // Readers of format 1 ignore the extra key; it says how the ids are ordered and names their set independently of that order.
  const sorted = [...seen].map((id) => JSON.stringify(id)).sort(codePointCompare);
  const fleet: FleetManifestRecord = {
    run: run.id,
    idOrder: 'position',
    idsCodePointSortedSha256: sha256Hex(sorted.map((id) => `${id}\n`).join('')),
    backend: run.backend,
    workers: [...new Set([...done.values()].map((c) => c.worker))].sort(codePointCompare),
  };
  return { ...manifest, fleet } as StoreManifest;
}
