import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DistillationError,
  type ExampleId,
  isDataSource,
  type LabeledData,
  optionsSchema,
  parseOptions,
  type RandomAccessSource,
  type SourceBatch,
  type Teacher,
  type TeacherPrediction,
  tensorSource,
} from '@kd/core';
import { decodeShard, type ShardRows, type StoredTeacher } from '@kd/teacher-store';
import { storedTeacher } from '@kd/teacher-store/node';
import * as tf from '@tensorflow/tfjs-core';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { FleetError } from './errors';
import { shardFile } from './plan';
import { connectionFields, redisConnection } from './redis';
import { completionSchema, connect, type FleetRun, readRun, runKeys, sha256Hex } from './run';

/** Options of {@link fleetTeacher} and {@link waitForFleet}. */
export interface FleetWaitOptions {
  /** `redis://` or `rediss://` URL of the fleet. */
  readonly redis: string;
  /** Passed through to ioredis. */
  readonly redisOptions?: Readonly<Record<string, unknown>>;
  /** The coordinator's queue. Default `kd-fleet`. */
  readonly queue?: string;
  /** Prefix of kd's own Redis keys. Default `kd-fleet`. */
  readonly prefix?: string;
  /** Milliseconds between looks at Redis while waiting. Default 200. */
  readonly pollMs?: number;
  /** Give up waiting after this many milliseconds (`fleet-timeout`). Default: wait for ever. */
  readonly timeoutMs?: number;
}

const waitFields = {
  ...connectionFields,
  pollMs: z.number().int().positive().default(200),
  timeoutMs: z.number().int().positive().optional(),
};

/** Schema of {@link FleetWaitOptions}. */
export const fleetWaitSchema = optionsSchema<FleetWaitOptions>()(waitFields);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it gives a value, or throws `fleet-timeout`. */
async function until<T>(probe: () => Promise<T | undefined>, o: { pollMs: number; timeoutMs?: number }, what: string): Promise<T> {
  const started = Date.now();
  while (true) {
    const value = await probe();
    if (value !== undefined) return value;
    if (o.timeoutMs !== undefined && Date.now() - started > o.timeoutMs)
      throw new FleetError('fleet-timeout', `${what}: still waiting after ${o.timeoutMs} ms`);
    await sleep(o.pollMs);
  }
}

/**
 * Waits until the fleet's run is complete (verified, `manifest.json` written), then opens the
 * store with `storedTeacher` (all of its checks). `store` options are passed on (e.g. `source`).
 */
export async function waitForFleet(options: FleetWaitOptions, store: Parameters<typeof storedTeacher>[1] = {}): Promise<StoredTeacher> {
  const o = parseOptions(fleetWaitSchema, options, 'waitForFleet');
  const keys = runKeys(o.prefix, o.queue);
  const redis = connect(redisConnection(o.redis, o.redisOptions));
  try {
    const run = await until(() => readRun(redis, keys.run, 'waitForFleet'), o, `waitForFleet: no run on queue ${o.queue} yet`);
    await until(async () => (await redis.get(keys.complete)) ?? undefined, o, `waitForFleet: run on queue ${o.queue} not complete`);
    return await storedTeacher(run.out, store);
  } finally {
    redis.disconnect();
  }
}

/** What {@link fleetTeacher} returns: a source and a teacher to train with while the fleet runs. */
export interface FleetTraining {
  /**
   * The source given, whose every read first waits until the shards holding its positions are
   * complete (their files checked against the completions' digests) and loaded into `teacher`.
   */
  readonly source: RandomAccessSource;
  /** A precomputed teacher over the shards loaded so far (looks outputs up by id, like a stored teacher). */
  readonly teacher: Teacher & { readonly precomputed: true };
  /** The run (layout, shard size, fingerprints). */
  readonly run: FleetRun;
  /** Shards loaded so far. */
  loadedShards(): number;
  /** Disconnects from Redis (the source and teacher keep what they loaded). */
  close(): Promise<void>;
}

/**
 * Trains while the fleet is still running: wraps the training data (the source the fleet runs
 * over, random access) so that each batch waits, batch by batch, until the shards holding its
 * examples exist; the teacher then reads their outputs. N, the seeded order and the bits of the
 * run are those of training on the finished store.
 */
export async function fleetTeacher(data: RandomAccessSource | LabeledData, options: FleetWaitOptions): Promise<FleetTraining> {
  const o = parseOptions(fleetWaitSchema, options, 'fleetTeacher');
  const inner = isDataSource(data) ? data : tensorSource(data);
  if (typeof (inner as RandomAccessSource).read !== 'function') {
    throw new DistillationError(
      'bad-option',
      'fleetTeacher: the data must be a random-access source (or { x, y } tensors), the one the fleet runs over',
    );
  }
  const keys = runKeys(o.prefix, o.queue);
  const redis: Redis = connect(redisConnection(o.redis, o.redisOptions));
  const run = await until(() => readRun(redis, keys.run, 'fleetTeacher'), o, `fleetTeacher: no run on queue ${o.queue} yet`).catch((e) => {
    redis.disconnect();
    throw e;
  });
  if (inner.size !== run.sourceIdentity.size) {
    redis.disconnect();
    throw new FleetError(
      'fleet-run-mismatch',
      `fleetTeacher: the source has ${inner.size} examples, the fleet's run ${run.sourceIdentity.size}`,
    );
  }
  const description = `fleet teacher (queue ${o.queue}, ${run.teacherDescription})`;
  const rows = new Map<ExampleId, { shard: ShardRows; row: number }>();
  const loaded = new Map<number, Promise<void>>();
  const load = (k: number) => {
    let p = loaded.get(k);
    if (!p) {
      p = (async () => {
        const file = shardFile(k);
        const shard = await until(
          async () => {
            const text = await redis.hget(keys.done, String(k));
            if (text === null) return undefined;
            const c = completionSchema.parse(JSON.parse(text));
            const bytes = await readFile(join(run.out, file)).catch(() => undefined);
            // Not there yet, or not yet the bytes completed (a store synced after the fact): look again.
            if (!bytes || sha256Hex(bytes) !== c.sha256) return undefined;
            return decodeShard(bytes, { ...run.layout, idType: run.idType }, file, c.rows);
          },
          o,
          `fleetTeacher: shard ${file}`,
        );
        shard.ids.forEach((id, row) => rows.set(id, { shard, row }));
      })();
      loaded.set(k, p);
      p.catch(() => loaded.delete(k));
    }
    return p;
  };
  // The source's own fields, read (not spread: a source may be a class with getters and methods).
  const ra = inner as RandomAccessSource;
  const source: RandomAccessSource = {
    kind: 'kd-source',
    size: ra.size,
    exampleShape: ra.exampleShape,
    ...(ra.teacherExampleShape ? { teacherExampleShape: ra.teacherExampleShape } : {}),
    ...(ra.labels ? { labels: ra.labels } : {}),
    ...(ra.description !== undefined ? { description: ra.description } : {}),
    ...(ra.classNames ? { classNames: ra.classNames } : {}),
    ...(ra.fingerprint ? { fingerprint: () => ra.fingerprint!() } : {}),
    async read(positions: Int32Array): Promise<SourceBatch> {
      const needed = new Set<number>();
      for (const p of positions) needed.add(Math.floor(p / run.shardSize));
      await Promise.all([...needed].map(load));
      return ra.read(positions);
    },
  };
  let tapped: string[] = [];
  const gather = (ids: readonly ExampleId[], width: number, values: (s: ShardRows) => Float32Array) => {
    const out = new Float32Array(ids.length * width);
    ids.forEach((id, i) => {
      const at = rows.get(id);
      if (!at) {
        throw new FleetError(
          'fleet-missing-id',
          `${description}: example ${JSON.stringify(id)} is not loaded; read batches through the source fleetTeacher returns`,
        );
      }
      out.set(values(at.shard).subarray(at.row * width, (at.row + 1) * width), i * width);
    });
    return out;
  };
  const teacher: Teacher & { readonly precomputed: true } = {
    kind: 'kd-teacher',
    description,
    precomputed: true,
    numClasses: run.layout.numClasses,
    fingerprint: async () => run.fingerprint,
    tap(names) {
      const unknown = names.filter((n) => !(n in run.layout.taps));
      if (unknown.length > 0) {
        throw new DistillationError(
          'unknown-layer',
          `${description}: the run records taps [${Object.keys(run.layout.taps).join(', ')}], not [${unknown.join(', ')}]`,
        );
      }
      tapped = [...names];
      return Object.fromEntries(names.map((n) => [n, run.layout.taps[n]!]));
    },
    predict(x, batch): TeacherPrediction {
      const ids = batch?.ids ?? [];
      if (ids.length !== x.shape[0])
        throw new DistillationError('bad-data', `${description}: a batch of ${x.shape[0]} rows came with ${ids.length} ids`);
      const logits = tf.tensor2d(
        gather(ids, run.layout.numClasses, (s) => s.logits),
        [ids.length, run.layout.numClasses],
      );
      const features: Record<string, tf.Tensor> = {};
      for (const name of tapped) {
        const shape = run.layout.taps[name]!;
        const width = shape.slice(1).reduce<number>((a, b) => a * (b ?? 1), 1);
        features[name] = tf.tensor(
          gather(ids, width, (s) => s.taps[name]!),
          [ids.length, ...(shape.slice(1) as number[])],
        );
      }
      return { logits, features };
    },
  };
  return {
    source,
    teacher,
    run,
    loadedShards: () => [...loaded.keys()].length,
    close: async () => {
      redis.disconnect();
    },
  };
}
