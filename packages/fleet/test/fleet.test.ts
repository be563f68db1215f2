import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Distiller, hardLabel, isDistillationError, type RandomAccessSource, sgd, softTargets, type TeacherLike } from '@kd/core';
import { saveModel } from '@kd/core/node';
import { precomputeTeacher, storedTeacher } from '@kd/teacher-store/node';
import * as tf from '@tensorflow/tfjs-core';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCoordinator } from '../src/coordinator';
import processShard, { releaseProcessor } from '../src/processor';
import { redisConnection } from '../src/redis';
import { CHILD_ENV, runKeys } from '../src/run';
import { fleetTeacher, waitForFleet } from '../src/wait';
import { mlp } from './helpers';
import { startRedis } from './redisServer';

const here = dirname(fileURLToPath(import.meta.url));
const SOURCE = join(here, 'fixtures', 'source.mjs');
const WORKER = join(here, 'fixtures', 'worker.mjs');
const SHARD = { shardSize: 16, batchSize: 8, taps: ['t_hidden'] } as const;

let server: Awaited<ReturnType<typeof startRedis>>;
let root: string;
let teacherDir: string;
let refDir: string;
let source: RandomAccessSource;
let reference: number[][];
const workers: ChildProcess[] = [];

/** A worker process (its own process group, so SIGKILL takes its sandboxed children with it), once it is connected. */
async function spawnWorker(queue: string, name: string, delayMs = 250): Promise<ChildProcess> {
  const child = spawn(process.execPath, [WORKER, server.url, queue, '1', name], {
    detached: true,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, KD_FLEET_TEST_DELAY_MS: String(delayMs) },
  });
  workers.push(child);
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker ${name} exited with ${code}`)));
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
  });
  return child;
}
const killGroup = (child: ChildProcess, signal: NodeJS.Signals) => {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
};

/** KD + a loss on the tapped hidden layer; returns the student's weights (the bits compared). */
async function distil(data: RandomAccessSource, teacher: TeacherLike): Promise<number[][]> {
  const student = mlp(6, 10, 3, 100, { name: 's' });
  const optimizer = sgd({ learningRate: 0.1, momentum: 0.9 });
  const distiller = new Distiller({ student, teacher, optimizer, seed: 7, teacherCache: 'off' }).use(
    hardLabel({ weight: 0.5 }),
    softTargets({ temperature: 3 }),
  );
  await distiller.fit(data, { epochs: 2, batchSize: 8 });
  const weights = student.getWeights().map((w) => Array.from(w.dataSync()));
  distiller.dispose();
  optimizer.dispose();
  student.dispose();
  return weights;
}

/** Shard files and manifest of two stores: the same bytes; the manifests equal but for the fleet's own key. */
function expectSameStore(fleetDir: string) {
  const ref = JSON.parse(readFileSync(join(refDir, 'manifest.json'), 'utf8'));
  const { fleet, ...got } = JSON.parse(readFileSync(join(fleetDir, 'manifest.json'), 'utf8'));
  expect(got).toEqual(ref);
  expect(fleet).toMatchObject({ idOrder: 'position', backend: 'cpu' });
  for (const s of ref.shards) expect(Buffer.compare(readFileSync(join(fleetDir, s.file)), readFileSync(join(refDir, s.file)))).toBe(0);
  expect(readdirSync(fleetDir).filter((f) => f.includes('.tmp-'))).toEqual([]);
}

beforeAll(async () => {
  server = await startRedis();
  root = mkdtempSync(join(tmpdir(), 'kd-fleet-'));
  teacherDir = join(root, 'teacher');
  refDir = join(root, 'reference');
  const teacher = mlp(6, 12, 3, 200, { name: 't' });
  await saveModel(teacher, teacherDir);
  teacher.dispose();
  source = (await import(SOURCE)).source;
  // The single-process store of the same teacher (as loaded from disk) and source.
  const { loadModel } = await import('@kd/core/node');
  const loaded = await loadModel(teacherDir);
  await precomputeTeacher(loaded, source, refDir, { ...SHARD });
  loaded.dispose();
  const stored = await storedTeacher(refDir);
  reference = await distil(source, stored);
});

afterAll(async () => {
  for (const w of workers) killGroup(w, 'SIGKILL');
  await releaseProcessor();
  await server?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('a fleet on a real redis-server', () => {
  it('3 workers, one SIGKILLed mid-shard: the verified store equals precomputeTeacher bit for bit; a trainer started early blocks until its shards exist', async () => {
    const queue = 'kill';
    const out = join(root, 'fleet-kill');
    const connection = redisConnection(server.url);
    const bull = new Queue(queue, { connection: { ...connection } });
    const redis = new Redis({ ...connection }).on('error', () => {});
    const w = [await spawnWorker(queue, 'w0'), await spawnWorker(queue, 'w1'), await spawnWorker(queue, 'w2')];
    let killed: string | undefined;
    const coordinator = runCoordinator({
      redis: server.url,
      queue,
      teacher: teacherDir,
      source: SOURCE,
      out,
      ...SHARD,
      pollMs: 100,
      timeoutMs: 90_000,
    });
    // The trainer starts now, before any shard exists.
    const before = tf.memory().numTensors;
    const training = await fleetTeacher(source, { redis: server.url, queue, pollMs: 50, timeoutMs: 90_000 });
    const completeAtStart = await redis.get(runKeys('kd-fleet', queue).complete);
    const trained = distil(training.source, training.teacher);
    // Kill the worker of the first shard in progress (its process group: the worker and its sandboxed child).
    while (!killed) {
      const active = (await bull.getActive()).find((j) => j.processedBy);
      if (active) {
        killed = active.processedBy!;
        killGroup(w[Number(killed.slice(1))]!, 'SIGKILL');
      } else await new Promise((r) => setTimeout(r, 50));
    }
    const result = await coordinator;
    expect(completeAtStart).toBeNull();
    expect(await trained).toEqual(reference);
    expect(training.loadedShards()).toBe(6);
    await training.close();
    expect(tf.memory().numTensors).toBe(before);
    expect(result.alreadyComplete).toBe(false);
    expect(result.completions.map((c) => c.shard)).toEqual([0, 1, 2, 3, 4, 5]);
    // The killed worker's shard was taken back from it (its lock expired) and finished by another.
    const jobs = await bull.getJobs(['completed']);
    expect(jobs).toHaveLength(6);
    expect(jobs.some((j) => j.stalledCounter > 0 || j.attemptsStarted > 1)).toBe(true);
    expectSameStore(out);
    const stored = await storedTeacher(out, { fingerprint: result.manifest.teacher.fingerprint, source });
    expect(stored.numClasses).toBe(3);
    await bull.close();
    redis.disconnect();
    for (const x of w) killGroup(x, 'SIGTERM');
  });

  it('a coordinator restarted continues from Redis; a duplicate completion leaves the same shard; waitForFleet gives the finished store', async () => {
    const queue = 'restart';
    const out = join(root, 'fleet-restart');
    const options = { redis: server.url, queue, teacher: teacherDir, source: SOURCE, out, ...SHARD, pollMs: 100 };
    const waiting = waitForFleet({ redis: server.url, queue, pollMs: 50, timeoutMs: 90_000 }, { source });
    const w = await spawnWorker(queue, 'r0', 150);
    // The first coordinator gives up (as if it died) with shards still to do.
    const first = await runCoordinator({ ...options, timeoutMs: 1200 }).catch((e) => e);
    expect(isDistillationError(first, 'fleet-timeout')).toBe(true);
    const connection = redisConnection(server.url);
    const redis = new Redis({ ...connection }).on('error', () => {});
    const keys = runKeys('kd-fleet', queue);
    expect(Number(await redis.hlen(keys.done))).toBeLessThan(6);
    const second = await runCoordinator({ ...options, timeoutMs: 60_000 });
    expect(second.alreadyComplete).toBe(false);
    const bull = new Queue(queue, { connection: { ...connection } });
    expect(await bull.getJobCounts('completed', 'failed', 'wait', 'active')).toEqual({ completed: 6, failed: 0, wait: 0, active: 0 });
    expectSameStore(out);
    const third = await runCoordinator(options);
    expect(third.alreadyComplete).toBe(true);
    expect(third.manifest).toEqual(second.manifest);
    // Another run on the same queue is refused.
    const other = await runCoordinator({ ...options, shardSize: 32 }).catch((e) => e);
    expect(isDistillationError(other, 'fleet-run-mismatch')).toBe(true);
    // The early teacher answers only for examples read through its source.
    const early = await fleetTeacher(source, { redis: server.url, queue });
    const x = tf.zeros([1, 6]);
    expect(() => early.teacher.predict(x, { ids: ['ex-0000'] })).toThrow(expect.objectContaining({ code: 'fleet-missing-id' }));
    await early.source.read(Int32Array.of(0));
    const { logits } = early.teacher.predict(x, { ids: ['ex-0000'] });
    expect(logits.shape).toEqual([1, 3]);
    tf.dispose([x, logits]);
    await early.close();
    // waitForFleet resolved with the verified store, which trains to the reference's bits.
    expect(await distil(source, await waiting)).toEqual(reference);

    // A slow worker finishing shard 2 after its retry (twice at once): same bytes, one file, nothing torn.
    Object.assign(process.env, {
      [CHILD_ENV.connection]: JSON.stringify(connection),
      [CHILD_ENV.prefix]: 'kd-fleet',
      [CHILD_ENV.queue]: queue,
      [CHILD_ENV.backendModule]: '@tensorflow/tfjs-backend-cpu',
    });
    const run = second.completions[2]!.run;
    const job = (data: unknown) => processShard({ id: 'late', data } as never);
    const late = await Promise.all([job({ run, shard: 2, start: 32, end: 48 }), job({ run, shard: 2, start: 32, end: 48 })]);
    expect(late.map((c) => c.sha256)).toEqual([second.completions[2]!.sha256, second.completions[2]!.sha256]);
    expectSameStore(out);
    await storedTeacher(out, { source });
    // Jobs carry a run id and a range of the run, nothing else.
    for (const data of [
      { run, shard: 2, start: 33, end: 49 },
      { run, shard: 2, start: 32, end: 48, teacher: '/elsewhere' },
      { run: 'f'.repeat(64), shard: 2, start: 32, end: 48 },
    ]) {
      expect(isDistillationError(await job(data).catch((e) => e), 'fleet-bad-job')).toBe(true);
    }
    await bull.close();
    redis.disconnect();
    killGroup(w, 'SIGTERM');
  });

  it('refuses unknown options (a misspelt key)', async () => {
    const unknown = await runCoordinator({
      redis: server.url,
      teacher: teacherDir,
      source: SOURCE,
      out: root,
      shardsize: 4,
    } as never).catch((e) => e);
    expect(isDistillationError(unknown, 'unknown-option')).toBe(true);
  });
});
