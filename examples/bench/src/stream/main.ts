/**
 * The streaming benchmark of issue 14: a synthetic on-disk image folder (PNG, 32 x 32 x 3, 10
 * classes), one epoch of KD + CRD (shared negatives, K = 4096) streamed from it in a child process
 * (RSS every 10,000 examples, tensors before and after), then steps/s streamed vs the same images
 * held in memory, interleaved (A B A B ...), medians, with the load average next to them.
 *
 *   pnpm --filter kd-bench stream [-- --images 100000 --reps 5 --steps 100]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { type BackendName, useBestBackend } from '@kd/backend-gpu';
import { backendOption, integerFlag, scriptArguments, usageExit } from '@kd/cli/flags';
import type { ExampleId, RandomAccessSource } from '@kd/core';
import { imageFolder } from '@kd/data/node';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { Command, Option } from 'commander';
import { writeSyntheticFolder } from './folder';
import { type EpochMeasurement, measureEpoch, median, type StreamRunOptions, timeSteps } from './run';

/** The parsed flags (commander's camel-case keys). */
interface Flags {
  readonly images: number;
  readonly dir?: string;
  readonly out?: string;
  readonly reps: number;
  readonly steps: number;
  readonly warmup: number;
  readonly workers: number;
  readonly prefetch: number;
  readonly negatives: number;
  readonly batchSize: number;
  readonly backend: BackendName | 'auto';
  readonly quick?: boolean;
  readonly childEpoch?: boolean;
}

const flags = new Command('pnpm --filter kd-bench stream')
  .usage('[-- options]')
  .description(
    'The streaming benchmark: one epoch of KD + CRD streamed from a synthetic PNG folder (RSS), then steps/s streamed vs in memory.',
  )
  .option('--images <n>', 'PNG images written (32x32x3, 10 classes)', integerFlag('--images', { min: 1 }), 100000)
  .option('--dir <dir>', 'image folder (default: out/stream/images-N; reused when complete)')
  .option('--out <dir>', 'output folder (default: results/stream; results/stream-quick with --quick)')
  .option('--reps <n>', 'interleaved reps of each side', integerFlag('--reps', { min: 1 }), 5)
  .option('--steps <n>', 'steps timed per rep', integerFlag('--steps', { min: 1 }), 100)
  .option('--warmup <n>', 'untimed steps before them (at least 1)', integerFlag('--warmup', { min: 0 }), 10)
  .option('--workers <n>', 'decode worker threads (0: the calling thread)', integerFlag('--workers', { min: 0 }), 1)
  .option('--prefetch <n>', 'batches decoded ahead', integerFlag('--prefetch', { min: 0 }), 2)
  .option('--negatives <k>', "CRD's shared negatives", integerFlag('--negatives', { min: 1 }), 4096)
  .option('--batch-size <n>', 'examples per step', integerFlag('--batch-size', { min: 1 }), 64)
  .addOption(backendOption('wasm'))
  .option('--quick', '1,280 images, K = 256, 2 reps of 8 steps')
  .addOption(new Option('--child-epoch', 'the streamed epoch of the RSS run (the child process)').hideHelp())
  .addHelpText(
    'after',
    `
Writes N PNG images (default 100000, 32x32x3, 10 classes) under DIR (reused when complete), streams one epoch of
KD + CRD (shared, K) from them in a child process (RSS every 10,000 examples), then times S steps (after W untimed)
streamed and in memory, interleaved, R times each. --quick: 1,280 images, K = 256, 2 reps of 8 steps.`,
  )
  .exitOverride(usageExit) // a bad flag exits with status 2
  .parse(scriptArguments())
  .opts<Flags>();

const quick = flags.quick === true;
const images = quick ? 1280 : flags.images;
const runOptions: StreamRunOptions = {
  batchSize: flags.batchSize,
  negatives: quick ? 256 : flags.negatives,
  featureDim: 128,
  teacher: [32, 64, 128],
  student: [8, 16, 32],
  imageShape: [32, 32, 3],
  prefetch: flags.prefetch,
  seed: 1,
};
const workers = flags.workers;
const reps = quick ? 2 : flags.reps;
const steps = quick ? 8 : flags.steps;
const warmup = Math.max(1, quick ? 2 : flags.warmup);
const here = resolve(import.meta.dirname, '..', '..');
const dir = resolve(flags.dir ?? join(here, 'out', 'stream', `images-${images}`));
const out = resolve(flags.out ?? join(here, 'results', quick ? 'stream-quick' : 'stream'));
const every = quick ? 256 : 10_000;

await useBestBackend(flags.backend);

if (flags.childEpoch) {
  // The RSS run: only the streamed source in this process.
  const source = await imageFolder(dir, { size: 32, channels: 3, workers });
  const result = await measureEpoch(source, runOptions, every);
  await source.close();
  console.log(JSON.stringify({ backend: tf.getBackend(), ...result }));
  process.exit(0);
}

const log = (text: string) => console.log(text);
log(
  `load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} | backend ${tf.getBackend()} | ${images} images in ${dir}`,
);
const folder = await writeSyntheticFolder(dir, images);
log(`image folder ready (${folder.count} PNG, written in ${folder.seconds.toFixed(1)} s)`);

// 1. One streamed epoch in a child process, so its RSS holds nothing but the run.
const childArgs = [
  '--import',
  'tsx',
  join(import.meta.dirname, 'main.ts'),
  '--child-epoch',
  '--dir',
  dir,
  '--images',
  String(images),
  '--workers',
  String(workers),
  '--prefetch',
  String(runOptions.prefetch),
  '--negatives',
  String(runOptions.negatives),
  '--batch-size',
  String(runOptions.batchSize),
  '--backend',
  flags.backend,
  ...(quick ? ['--quick'] : []),
];
const childOut = execFileSync(process.execPath, childArgs, { cwd: here, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
const epoch = JSON.parse(childOut.trim().split('\n').at(-1)!) as EpochMeasurement & { backend: string };
log(
  `streamed epoch: ${epoch.steps} steps in ${epoch.seconds.toFixed(1)} s, peak RSS ${epoch.peakRssMiB.toFixed(0)} MiB (kernel max ${epoch.maxRssMiB.toFixed(0)} MiB), tensors ${epoch.tensorsBefore} -> ${epoch.tensorsAfter}`,
);

// 2. Streamed vs in memory, interleaved, in this process.
const source = await imageFolder(dir, { size: 32, channels: 3, workers });
const loadStarted = performance.now();
const x = new Float32Array(source.size * 32 * 32 * 3);
const y = new Int32Array(source.size);
const ids: ExampleId[] = [];
for (let start = 0; start < source.size; start += 1024) {
  const positions = Int32Array.from({ length: Math.min(1024, source.size - start) }, (_, i) => start + i);
  const batch = await source.read(positions);
  x.set(batch.x, start * 3072);
  y.set(batch.y, start);
  ids.push(...batch.ids);
}
// Held in memory as arrays behind the same contract (a 1.2 GB tensor would not fit the wasm heap
// next to the run): the one difference between the two sides is where a batch's pixels come from.
const memory: RandomAccessSource = {
  kind: 'kd-source',
  size: source.size,
  exampleShape: [32, 32, 3],
  labels: source.labels,
  description: 'the same images, in memory',
  read(positions) {
    const batch = new Float32Array(positions.length * 3072);
    positions.forEach((p, i) => batch.set(x.subarray(p * 3072, (p + 1) * 3072), i * 3072));
    return { x: batch, y: Int32Array.from(positions, (p) => y[p]!), ids: Array.from(positions, (p) => ids[p]!) };
  },
};
log(`in-memory copy: ${source.size} images decoded in ${((performance.now() - loadStarted) / 1000).toFixed(1)} s`);
const streamed: number[] = [];
const held: number[] = [];
const loads: number[][] = [];
for (let r = 0; r < reps; r++) {
  loads.push(loadavg());
  // A B, then B A: neither side always runs first.
  if (r % 2 === 0) {
    streamed.push(await timeSteps(source, runOptions, steps, warmup));
    held.push(await timeSteps(memory, runOptions, steps, warmup));
  } else {
    held.push(await timeSteps(memory, runOptions, steps, warmup));
    streamed.push(await timeSteps(source, runOptions, steps, warmup));
  }
  log(
    `rep ${r + 1}/${reps}: streamed ${streamed.at(-1)!.toFixed(2)} steps/s, in memory ${held.at(-1)!.toFixed(2)} steps/s (load ${loads.at(-1)![0]!.toFixed(2)})`,
  );
}
await source.close();

const ratio = median(streamed) / median(held);
// Flat: after the first sample past warm-up (10,000 examples), RSS grows by at most 10 %.
const settled = epoch.rss.filter((r) => r.examples >= every);
const growth = settled.length ? Math.max(...settled.map((r) => r.rssMiB)) - settled[0]!.rssMiB : 0;
const perRepRatios = streamed.map((s, i) => s / held[i]!);
const result = {
  images,
  imageShape: runOptions.imageShape,
  method: `1*ce + 1*kd(T=4) + 0.8*crd(shared, K=${runOptions.negatives})`,
  batchSize: runOptions.batchSize,
  prefetch: runOptions.prefetch,
  decodeWorkers: workers,
  backend: epoch.backend,
  folder,
  epoch,
  timing: {
    reps,
    steps,
    warmup,
    streamedStepsPerSecond: streamed,
    inMemoryStepsPerSecond: held,
    medianStreamed: median(streamed),
    medianInMemory: median(held),
    ratio,
    perRepRatios,
    loadAverages: loads,
  },
  targets: {
    peakRssMiB: { limit: 1536, measured: epoch.peakRssMiB, met: epoch.peakRssMiB <= 1536 && epoch.maxRssMiB <= 1536 },
    rssFlat: { growthMiB: growth, met: settled.length > 0 && growth <= 0.1 * settled[0]!.rssMiB },
    tensorsUnchanged: { measured: epoch.tensorsAfter - epoch.tensorsBefore, met: epoch.tensorsAfter === epoch.tensorsBefore },
    stepsPerSecondWithin10Percent: { measured: ratio, met: ratio >= 0.9 },
  },
};
const rssRows = epoch.rss.map((r) => `| ${r.examples} | ${r.rssMiB.toFixed(0)} |`).join('\n');
const md = `# Streaming benchmark (${images} PNG images, 32x32x3)

${result.method}, batch ${result.batchSize}, prefetch ${result.prefetch}, ${workers} decode worker(s), backend ${result.backend}.

| measure | target | measured | met |
|---|---|---:|---|
| peak RSS of one streamed epoch | <= 1.5 GiB | ${epoch.peakRssMiB.toFixed(0)} MiB (kernel max ${epoch.maxRssMiB.toFixed(0)} MiB) | ${result.targets.peakRssMiB.met ? 'yes' : 'no'} |
| RSS growth after the first ${every.toLocaleString('en-US')} examples | flat (<= 10 %) | ${growth >= 0 ? '+' : ''}${growth.toFixed(0)} MiB | ${result.targets.rssFlat.met ? 'yes' : 'no'} |
| tf.memory().numTensors after the epoch | unchanged | ${epoch.tensorsBefore} -> ${epoch.tensorsAfter} | ${result.targets.tensorsUnchanged.met ? 'yes' : 'no'} |
| steps/s streamed / in memory (medians of ${reps}, interleaved) | >= 0.90 | ${median(streamed).toFixed(2)} / ${median(held).toFixed(2)} = ${ratio.toFixed(3)} | ${result.targets.stepsPerSecondWithin10Percent.met ? 'yes' : 'no'} |

"In memory" is the same decoded images held as arrays behind the same source contract (a 1.2 GB
tensor does not fit the wasm heap beside the run), so the one difference is where a batch's pixels
come from: decoded from PNG files by the worker while the previous step trains, or copied from RAM.
The files are in the page cache (the in-memory copy was decoded from them just before). Timed: ${steps}
steps after ${warmup} untimed, from the start of an epoch, each rep in a fresh Distiller, alternating
which side runs first.

Streamed epoch: ${epoch.steps} steps in ${epoch.seconds.toFixed(1)} s (${epoch.stepsPerSecond.toFixed(2)} steps/s), load ${epoch.load.map((l) => l.toFixed(2)).join(' ')}.
Per-rep ratios: ${perRepRatios.map((r) => r.toFixed(3)).join(', ')}; load at each rep: ${loads.map((l) => l[0]!.toFixed(2)).join(', ')}.

| examples | RSS (MiB) |
|---:|---:|
${rssRows}
`;
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'results.json'), `${JSON.stringify(result, null, 2)}\n`);
writeFileSync(join(out, 'results.md'), md);
log(md);
log(`wrote ${join(out, 'results.json')} and results.md`);
