import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DistillationError, optionsSchema, parseOptions } from '@kd/core';
import { Worker } from 'bullmq';
import { z } from 'zod';
import { connectionFields, type RedisConnectionOptions, redisConnection } from './redis';
import { CHILD_ENV, type ShardCompletion } from './run';

/** Options of {@link startWorker}. */
export interface WorkerOptions {
  /** `redis://` or `rediss://` URL (see `redisConnection`). */
  readonly redis: string;
  /** Passed through to ioredis (e.g. `{ tls: { ca } }`, `connectTimeout`). */
  readonly redisOptions?: Readonly<Record<string, unknown>>;
  /** BullMQ queue name; the coordinator's. Default `kd-fleet`. */
  readonly queue?: string;
  /** Prefix of kd's own Redis keys (the run record, completions). Default `kd-fleet`. */
  readonly prefix?: string;
  /** Shards processed at once, each in its own child process (loaded once, kept between jobs). Default 1. */
  readonly processes?: number;
  /**
   * Milliseconds a job's lock lasts (renewed by this process every half of it while the child
   * computes). A killed worker's job goes back to the queue after about `lockDuration` +
   * `stalledInterval`. Default 30 000.
   */
  readonly lockDuration?: number;
  /** Milliseconds between BullMQ's checks for stalled jobs (those whose lock expired). Default 15 000. */
  readonly stalledInterval?: number;
  /** Times a job may stall (its worker lost) before it fails. Default 3. */
  readonly maxStalledCount?: number;
  /** A module the children import to register the run's tfjs backend. Default `@tensorflow/tfjs-backend-cpu`. */
  readonly backendModule?: string;
  /** Names this worker in BullMQ (`job.processedBy`). */
  readonly name?: string;
}

/** Schema of {@link WorkerOptions}. */
export const workerSchema = optionsSchema<WorkerOptions>()({
  ...connectionFields,
  processes: z.number().int().positive().default(1),
  lockDuration: z.number().int().positive().default(30_000),
  stalledInterval: z.number().int().positive().default(15_000),
  maxStalledCount: z.number().int().nonnegative().default(3),
  backendModule: z.string().min(1).default('@tensorflow/tfjs-backend-cpu'),
  name: z.string().min(1).optional(),
});

/** A running worker: {@link FleetWorker.close} finishes the jobs in progress, then disconnects. */
export interface FleetWorker {
  /** Resolves once the worker is connected to Redis and takes jobs. */
  waitUntilReady(): Promise<void>;
  /** Calls `listener` with each shard this worker completes. */
  onCompleted(listener: (completion: ShardCompletion) => void): void;
  /** Calls `listener` when a shard attempt fails here (the job is retried up to the coordinator's `attempts`). */
  onFailed(listener: (shard: number | undefined, error: Error) => void): void;
  close(): Promise<void>;
}

/** The sandboxed processor file: next to this module in `dist/`, or the built one when running from the sources. */
function processorFile(): string {
  for (const candidate of ['./processor.js', '../dist/processor.js']) {
    const path = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new DistillationError(
    'io-error',
    '@kd/fleet: dist/processor.js (the sandboxed processor) not found next to the package: build the package',
  );
}

/**
 * Starts a fleet worker in this process: a BullMQ worker on the coordinator's queue whose jobs
 * run in sandboxed child processes (`processes` of them, each loading the run's teacher and
 * source once). The worker may start before the coordinator; it takes the run from Redis with
 * the first job. This process stays responsive while the children compute, so job locks are
 * renewed; a job whose worker dies goes back to the queue once its lock expires.
 */
export function startWorker(options: WorkerOptions): FleetWorker {
  const o = parseOptions(workerSchema, options, 'startWorker');
  const connection: RedisConnectionOptions = redisConnection(o.redis, o.redisOptions);
  const worker = new Worker(o.queue, processorFile(), {
    connection: { ...connection },
    concurrency: o.processes,
    lockDuration: o.lockDuration,
    stalledInterval: o.stalledInterval,
    maxStalledCount: o.maxStalledCount,
    useWorkerThreads: false,
    ...(o.name ? { name: o.name } : {}),
    workerForkOptions: {
      env: {
        ...process.env,
        [CHILD_ENV.connection]: JSON.stringify(connection),
        [CHILD_ENV.prefix]: o.prefix,
        [CHILD_ENV.queue]: o.queue,
        [CHILD_ENV.backendModule]: o.backendModule,
      },
    },
  });
  worker.on('error', (error) => process.emitWarning(`@kd/fleet worker: ${error.message}`));
  return {
    waitUntilReady: async () => {
      await worker.waitUntilReady();
    },
    onCompleted: (listener) => worker.on('completed', (_job, value) => listener(value as ShardCompletion)),
    onFailed: (listener) => worker.on('failed', (job, error) => listener(job?.data?.shard, error)),
    close: () => worker.close(),
  };
}
