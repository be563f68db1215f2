#!/usr/bin/env node
// Fleet benchmark: shards/s and examples/s of a fleet with 1, 2 and 4 worker processes over a
// real redis-server, against precomputeTeacher in one process; interleaved (1 2 4 single, 1 2 4
// single, ...), medians of REPS rounds; prints `uptime` before and after, a table, and writes
// bench/results.json. Needs `pnpm exec turbo run build --filter=@kd/fleet...` first.
// Usage: nice -n 19 node packages/fleet/bench/fleet.mjs [--reps 5] [--n 4096] [--shard 256]
import { execSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import '@tensorflow/tfjs-backend-cpu';
import { loadModel, saveModel } from '@kd/core/node';
import { precomputeTeacher } from '@kd/teacher-store/node';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Redis } from 'ioredis';
import { runCoordinator } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const REPS = arg('reps', 5);
const N = arg('n', 4096);
const SHARD = arg('shard', 256);
const WORKERS = [1, 2, 4];
process.env.KD_FLEET_BENCH_N = String(N);
await tf.setBackend('cpu');

const uptime = () => execSync('uptime').toString().trim();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const port = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const redisServer = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
const url = `redis://127.0.0.1:${port}`;
await new Promise((r) => setTimeout(r, 500)); // redis-server's start
const admin = new Redis(url, { maxRetriesPerRequest: null });
await admin.ping();

const root = mkdtempSync(join(tmpdir(), 'kd-fleet-bench-'));
const teacherDir = join(root, 'teacher');
const t = tfl.sequential({ name: 'bench_teacher' });
t.add(tfl.layers.dense({ inputShape: [64], units: 512, activation: 'relu' }));
t.add(tfl.layers.dense({ units: 512, activation: 'relu' }));
t.add(tfl.layers.dense({ units: 10 }));
await saveModel(t, teacherDir);
t.dispose();
const source = (await import('./source.mjs')).source;
const shards = Math.ceil(N / SHARD);

async function fleetRound(workers, rep) {
  const queue = `bench-${workers}-${rep}`;
  const procs = await Promise.all(
    Array.from({ length: workers }, () => {
      const child = spawn(process.execPath, [join(here, 'worker.mjs'), url, queue], { stdio: ['ignore', 'pipe', 'ignore'] });
      return new Promise((resolve) => child.stdout.on('data', (d) => d.toString().includes('ready') && resolve(child)));
    }),
  );
  const out = join(root, queue);
  const t0 = performance.now();
  const result = await runCoordinator({ redis: url, queue, teacher: teacherDir, source: join(here, 'source.mjs'), out, shardSize: SHARD, batchSize: 128, pollMs: 20 });
  const seconds = (performance.now() - t0) / 1000;
  for (const p of procs) p.kill('SIGTERM');
  const workerMs = result.completions.reduce((a, c) => a + c.ms, 0);
  return { seconds, workerMs, first: result.completions.map((c) => c.ms).sort((a, b) => b - a)[0] };
}

async function singleRound(rep) {
  const model = await loadModel(teacherDir);
  const t0 = performance.now();
  await precomputeTeacher(model, source, join(root, `single-${rep}`), { shardSize: SHARD, batchSize: 128 });
  const seconds = (performance.now() - t0) / 1000;
  model.dispose();
  return { seconds };
}

console.log(`fleet bench: N = ${N}, ${shards} shards of ${SHARD}, teacher 64-512-512-10 (cpu), ${REPS} rounds interleaved`);

const loadBefore = uptime();
console.log(`load before: ${loadBefore}`);
const runs = { single: [], ...Object.fromEntries(WORKERS.map((w) => [w, []])) };
for (let rep = 0; rep < REPS; rep++) {
  for (const w of WORKERS) runs[w].push(await fleetRound(w, rep));
  runs.single.push(await singleRound(rep));
  process.stdout.write(`  round ${rep + 1}/${REPS} done\n`);
}
const loadAfter = uptime();
console.log(`load after: ${loadAfter}`);
const single = median(runs.single.map((r) => r.seconds));
const rows = WORKERS.map((w) => {
  const s = median(runs[w].map((r) => r.seconds));
  return { workers: w, seconds: s, shardsPerSecond: shards / s, examplesPerSecond: N / s, speedup: runs[WORKERS[0]] ? median(runs[1].map((r) => r.seconds)) / s : 1 };
});
// Coordinator overhead per shard, two ways: (a) per round, the fleet's wall time beyond its workers' own job time
// (sum of the jobs' ms / workers: queueing, Redis round trips, polling, verification, manifest), per shard;
// (b) the 1-worker fleet's median wall time beyond precomputeTeacher's, per shard (also pays the process start).
const overhead = Object.fromEntries(WORKERS.map((w) => [w, median(runs[w].map((r) => ((r.seconds * 1000 - r.workerMs / w) / shards)))]));
const overheadMs = ((rows[0].seconds - single) / shards) * 1000;
console.log('\n| setup | wall s (median) | shards/s | examples/s | vs 1 worker | coordinator overhead / shard (a) |');
console.log('|---|---|---|---|---|---|');
console.log(`| precomputeTeacher, 1 process | ${single.toFixed(2)} | ${(shards / single).toFixed(1)} | ${Math.round(N / single)} | | |`);
for (const r of rows) console.log(`| fleet, ${r.workers} worker${r.workers > 1 ? 's' : ''} | ${r.seconds.toFixed(2)} | ${r.shardsPerSecond.toFixed(1)} | ${Math.round(r.examplesPerSecond)} | ${r.speedup.toFixed(2)}x | ${overhead[r.workers].toFixed(0)} ms |`);
console.log(`\n(a) fleet wall - job time / workers, per shard (median of rounds). (b) 1-worker fleet - precomputeTeacher, per shard: ${overheadMs.toFixed(1)} ms`);
const results = { date: new Date().toISOString(), n: N, shardSize: SHARD, shards, reps: REPS, loadBefore, loadAfter, single, rows, overheadMsPerShard: { wallMinusJobs: overhead, fleetMinusSingle: overheadMs }, raw: runs };
writeFileSync(join(here, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
admin.disconnect();
redisServer.kill('SIGTERM');
rmSync(root, { recursive: true, force: true });
