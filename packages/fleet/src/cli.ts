#!/usr/bin/env node
/**
 * `kd-fleet coordinator ...` and `kd-fleet worker ...`: the two halves of a fleet, one process
 * each (see the package README). Unknown flags are errors. The Redis URL may also come from
 * `KD_FLEET_REDIS` (keeps a password out of the process list).
 */
import { parseArgs } from 'node:util';
import { DistillationError } from '@kd/core';
import { runCoordinator } from './coordinator';
import { redactUrl } from './redis';
import { startWorker } from './worker';

const USAGE = `usage:
  kd-fleet coordinator --teacher <dir> --source <module> --out <dir> [--redis <url>] [--queue kd-fleet]
                       [--shard-size 4096] [--batch-size 256] [--taps a,b] [--dtype float32|float16]
                       [--backend cpu] [--backend-module @tensorflow/tfjs-backend-cpu] [--attempts 3]
  kd-fleet worker [--redis <url>] [--queue kd-fleet] [--processes 1] [--lock-duration 30000]
                  [--stalled-interval 15000] [--backend-module @tensorflow/tfjs-backend-cpu]
  The Redis URL defaults to $KD_FLEET_REDIS, then redis://127.0.0.1:6379.`;

const int = (name: string, v: string | undefined) => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0)
    throw new DistillationError('bad-option', `--${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
};

async function main(argv: string[]): Promise<void> {
  const [verb, ...rest] = argv;
  const common = { redis: { type: 'string' }, queue: { type: 'string' }, 'backend-module': { type: 'string' } } as const;
  const redis = (v: string | undefined) => v ?? process.env.KD_FLEET_REDIS ?? 'redis://127.0.0.1:6379';
  if (verb === 'coordinator') {
    const { values: v } = parseArgs({
      args: rest,
      strict: true,
      options: {
        ...common,
        teacher: { type: 'string' },
        source: { type: 'string' },
        out: { type: 'string' },
        'shard-size': { type: 'string' },
        'batch-size': { type: 'string' },
        taps: { type: 'string' },
        dtype: { type: 'string' },
        backend: { type: 'string' },
        attempts: { type: 'string' },
      },
    });
    if (!v.teacher || !v.source || !v.out)
      throw new DistillationError('bad-option', `coordinator needs --teacher, --source and --out\n${USAGE}`);
    const url = redis(v.redis);
    console.log(`kd-fleet coordinator: ${redactUrl(url)}, queue ${v.queue ?? 'kd-fleet'}, store ${v.out}`);
    const t0 = performance.now();
    const result = await runCoordinator({
      redis: url,
      teacher: v.teacher,
      source: v.source,
      out: v.out,
      ...(v.queue ? { queue: v.queue } : {}),
      ...(v['backend-module'] ? { backendModule: v['backend-module'] } : {}),
      ...(v.backend ? { backend: v.backend } : {}),
      ...(v.dtype ? { dtype: v.dtype as 'float32' | 'float16' } : {}),
      ...(v.taps ? { taps: v.taps.split(',').filter(Boolean) } : {}),
      ...(v['shard-size'] ? { shardSize: int('shard-size', v['shard-size'])! } : {}),
      ...(v['batch-size'] ? { batchSize: int('batch-size', v['batch-size'])! } : {}),
      ...(v.attempts ? { attempts: int('attempts', v.attempts)! } : {}),
      onProgress: ({ done, shards, examples }) => console.log(`  ${done}/${shards} shards (${examples} examples)`),
    });
    const s = ((performance.now() - t0) / 1000).toFixed(1);
    console.log(
      `kd-fleet coordinator: ${result.alreadyComplete ? 'already complete' : `verified and committed in ${s} s`}: ${v.out}/manifest.json (${result.manifest.shards.length} shards, ${result.manifest.source.size} examples, backend ${result.manifest.backend})`,
    );
    return;
  }
  if (verb === 'worker') {
    const { values: v } = parseArgs({
      args: rest,
      strict: true,
      options: { ...common, processes: { type: 'string' }, 'lock-duration': { type: 'string' }, 'stalled-interval': { type: 'string' } },
    });
    const url = redis(v.redis);
    const fleet = startWorker({
      redis: url,
      ...(v.queue ? { queue: v.queue } : {}),
      ...(v['backend-module'] ? { backendModule: v['backend-module'] } : {}),
      ...(v.processes ? { processes: int('processes', v.processes)! } : {}),
      ...(v['lock-duration'] ? { lockDuration: int('lock-duration', v['lock-duration'])! } : {}),
      ...(v['stalled-interval'] ? { stalledInterval: int('stalled-interval', v['stalled-interval'])! } : {}),
    });
    fleet.onCompleted((c) => console.log(`  shard ${c.shard} done (${c.rows} rows, ${Math.round(c.ms)} ms)`));
    fleet.onFailed((shard, error) => console.log(`  shard ${shard} failed: ${error.message}`));
    console.log(
      `kd-fleet worker ${process.pid}: ${redactUrl(url)}, queue ${v.queue ?? 'kd-fleet'}; Ctrl-C to stop after the current shard`,
    );
    const stop = async () => {
      await fleet.close();
      process.exit(0);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    return;
  }
  throw new DistillationError('bad-option', verb ? `unknown command ${JSON.stringify(verb)}\n${USAGE}` : USAGE);
}

main(process.argv.slice(2)).catch((error: Error) => {
  console.error(`kd-fleet: ${error.message}`);
  process.exit(1);
});
