/**
 * The sandboxed BullMQ processor (one child process per concurrent job slot of a worker, kept
 * between jobs): loads the run's teacher and source once, computes a shard with
 * `computeShard` and writes it atomically. The tfjs work blocks this process's event loop only;
 * the worker process renews the job's lock meanwhile. Not an entry point of the package.
 */
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { RandomAccessSource, Teacher } from '@kd/core';
import { atomicWriteFile } from '@kd/core/node';
import { computeShard } from '@kd/teacher-store/node';
import * as tf from '@tensorflow/tfjs-core';
import type { SandboxedJob } from 'bullmq';
import type { Redis } from 'ioredis';
import { FleetError } from './errors';
import { planShards, shardFile } from './plan';
import {
  CHILD_ENV,
  connect,
  type FleetRun,
  jobSchema,
  loadSource,
  loadTeacher,
  readRun,
  runKeys,
  type ShardCompletion,
  selectBackend,
  sha256Hex,
} from './run';

let redis: Redis | undefined;
let loaded: { run: FleetRun; teacher: Teacher; source: RandomAccessSource; close: () => Promise<void> } | undefined;

async function setUp(runId: string): Promise<NonNullable<typeof loaded>> {
  if (loaded?.run.id === runId) return loaded;
  redis ??= connect(JSON.parse(process.env[CHILD_ENV.connection] ?? '{}'));
  const keys = runKeys(process.env[CHILD_ENV.prefix] ?? 'kd-fleet', process.env[CHILD_ENV.queue] ?? '');
  const run = await readRun(redis, keys.run, 'fleet worker');
  if (!run || run.id !== runId) {
    throw new FleetError(
      'fleet-bad-job',
      `fleet worker: job of run ${runId.slice(0, 12)}…, but the queue's run is ${run ? `${run.id.slice(0, 12)}…` : 'gone'}`,
    );
  }
  await selectBackend(run.backend, process.env[CHILD_ENV.backendModule] || undefined, 'fleet worker');
  const { teacher } = await loadTeacher(run.teacher); // kept for the process's life: the next jobs of the run use it
  const fingerprint = await teacher.fingerprint?.();
  if (fingerprint !== run.fingerprint) {
    throw new FleetError(
      'fleet-run-mismatch',
      `fleet worker: the teacher at ${run.teacher} here has fingerprint ${fingerprint?.slice(0, 12)}…, the run ${run.fingerprint.slice(0, 12)}… (another model on this machine)`,
    );
  }
  const taps = teacher.tap(Object.keys(run.layout.taps));
  if (JSON.stringify(taps) !== JSON.stringify(Object.fromEntries(Object.keys(taps).map((k) => [k, run.layout.taps[k]])))) {
    throw new FleetError(
      'fleet-run-mismatch',
      `fleet worker: the teacher's taps here are ${JSON.stringify(taps)}, the run records ${JSON.stringify(run.layout.taps)}`,
    );
  }
  const { source, close } = await loadSource(run.source);
  if (source.size !== run.sourceIdentity.size) {
    throw new FleetError(
      'fleet-run-mismatch',
      `fleet worker: the source at ${run.source} has ${source.size} examples here, the run ${run.sourceIdentity.size}`,
    );
  }
  await loaded?.close();
  loaded = { run, teacher, source, close };
  return loaded;
}

/** Disconnects this process's Redis client and forgets the loaded run (for a processor run in-process, e.g. in tests). */
export async function releaseProcessor(): Promise<void> {
  redis?.disconnect();
  redis = undefined;
  await loaded?.close();
  loaded = undefined;
}

/** Processes one shard job; its return value is the shard's completion. */
export default async function processShard(job: SandboxedJob): Promise<ShardCompletion> {
  const t0 = performance.now();
  const parsed = jobSchema.safeParse(job.data);
  if (!parsed.success)
    throw new FleetError('fleet-bad-job', `fleet worker: job ${job.id} is not { run, shard, start, end }: ${JSON.stringify(job.data)}`);
  const data = parsed.data;
  const { run, teacher, source } = await setUp(data.run);
  const planned = planShards(run.sourceIdentity.size, run.shardSize)[data.shard];
  if (!planned || planned.start !== data.start || planned.end !== data.end) {
    throw new FleetError(
      'fleet-bad-job',
      `fleet worker: job ${job.id} asks for shard ${data.shard} = [${data.start}, ${data.end}), not a shard of the run`,
    );
  }
  const shard = await computeShard(teacher, source, run.layout, { start: data.start, end: data.end, batchSize: run.batchSize });
  const path = join(run.out, shardFile(data.shard));
  // A duplicate completion (a retried job whose first worker was only slow) finds the same bytes: nothing to write.
  const existing = await readFile(path).catch(() => undefined);
  if (!existing || sha256Hex(existing) !== shard.sha256) await atomicWriteFile(path, shard.bytes);
  return {
    run: run.id,
    shard: data.shard,
    rows: shard.rows,
    sha256: shard.sha256,
    firstId: shard.ids[0]!,
    backend: tf.getBackend(),
    fingerprint: run.fingerprint,
    worker: `${hostname()}:${process.pid}`,
    ms: performance.now() - t0,
  };
}
