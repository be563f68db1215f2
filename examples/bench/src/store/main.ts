/**
 * Issue 15's numbers: KD epoch time with the stored teacher vs the live one (the bench's CNN
 * teacher, and a two-teacher ensemble), interleaved, medians; bytes on disk per example, float32
 * vs float16. `pnpm --filter kd-bench stored-teacher [-- --examples 6000 --reps 5]`.
 */
import { statSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { type BackendName, useBestBackend } from '@kd/backend-gpu';
import { backendOption, integerFlag, scriptArguments, usageExit } from '@kd/cli/flags';
import { adam, Distiller, ensembleTeacher, hardLabel, softTargets, subsetSource, type Teacher, type TeacherLike } from '@kd/core';
import { loadFashionMnistSources } from '@kd/data/node';
import { precomputeTeacher, storedTeacher } from '@kd/teacher-store/node';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { Command } from 'commander';
import { cnn } from '../quality/models';
import { median } from '../stream/run';

/** The parsed flags (commander's camel-case keys). */
interface Flags {
  readonly examples: number;
  readonly reps: number;
  readonly backend: BackendName | 'auto';
  readonly quick?: boolean;
  readonly out?: string;
}

const flags = new Command('pnpm --filter kd-bench stored-teacher')
  .usage('[-- options]')
  .description(
    'KD epoch time with a stored teacher vs the live one (a CNN teacher and a two-teacher ensemble), interleaved; bytes on disk per example, float32 vs float16.',
  )
  .option('--examples <n>', 'Fashion-MNIST training examples (256 with --quick)', integerFlag('--examples', { min: 1 }), 6000)
  .option('--reps <n>', 'interleaved reps (2 with --quick)', integerFlag('--reps', { min: 1 }), 5)
  .addOption(backendOption('wasm'))
  .option('--quick', '256 examples, 2 reps')
  .option('--out <dir>', 'output folder (default: results/store; results/store-quick with --quick)')
  .exitOverride(usageExit) // a bad flag exits with status 2
  .parse(scriptArguments())
  .opts<Flags>();
const quick = flags.quick === true;
const examples = quick ? 256 : flags.examples;
const reps = quick ? 2 : flags.reps;
const here = resolve(import.meta.dirname, '..', '..');
const out = resolve(flags.out ?? join(here, 'results', quick ? 'store-quick' : 'store'));
const work = join(here, 'out', 'store');
await useBestBackend(flags.backend);

const { train } = await loadFashionMnistSources();
const data = subsetSource(
  train,
  Int32Array.from({ length: examples }, (_, i) => i),
  `Fashion-MNIST train[0:${examples}]`,
);
// Untrained teachers: the timing and the bytes do not depend on what the weights are.
const single = cnn('teacher', 32, 64, 128, 11);
const members = [cnn('teacherA', 32, 64, 128, 21), cnn('teacherB', 32, 64, 128, 31)];
const ensemble = ensembleTeacher(members);

const stores: Record<string, { dir: string; seconds: number; bytesPerExample: number }> = {};
const precompute = async (name: string, teacher: TeacherLike, dtype: 'float32' | 'float16', fingerprint?: string) => {
  const dir = join(work, `${name}-${dtype}`);
  await rm(dir, { recursive: true, force: true });
  const started = performance.now();
  const manifest = await precomputeTeacher(teacher, data, dir, {
    dtype,
    shardSize: 1024,
    batchSize: 256,
    ...(fingerprint ? { fingerprint } : {}),
  });
  const bytes = manifest.shards.reduce((sum, s) => sum + statSync(join(dir, s.file)).size, 0);
  stores[`${name}-${dtype}`] = { dir, seconds: (performance.now() - started) / 1000, bytesPerExample: bytes / examples };
};
await precompute('cnn', single, 'float32');
await precompute('cnn', single, 'float16');
await precompute('ensemble', ensemble, 'float32', 'e'.repeat(64));
const stored = {
  cnn: await storedTeacher(stores['cnn-float32']!.dir, { teacher: single }),
  ensemble: await storedTeacher(stores['ensemble-float32']!.dir),
};

/** Seconds of one KD epoch (`0.1*ce + 0.9*kd(T=4)`, batch 64, Adam) of a fresh student with `teacher`. */
async function epoch(teacher: TeacherLike | Teacher): Promise<number> {
  const student = cnn('student', 8, 16, 32, 41);
  const optimizer = adam({ learningRate: 1e-3 });
  const distiller = new Distiller({ student, teacher, optimizer, seed: 1 }).use(
    hardLabel({ weight: 0.1 }),
    softTargets({ temperature: 4, weight: 0.9 }),
  );
  const started = performance.now();
  await distiller.fit(data, { epochs: 1, batchSize: 64 });
  const seconds = (performance.now() - started) / 1000;
  distiller.dispose();
  optimizer.dispose();
  student.dispose();
  return seconds;
}

const sides = { 'cnn live': single, 'cnn stored': stored.cnn, 'ensemble live': ensemble, 'ensemble stored': stored.ensemble } as const;
const times: Record<string, number[]> = Object.fromEntries(Object.keys(sides).map((k) => [k, []]));
const loads: number[] = [];
for (let r = 0; r < reps; r++) {
  loads.push(loadavg()[0]!);
  const names = Object.keys(sides) as (keyof typeof sides)[];
  for (const name of r % 2 ? [...names].reverse() : names) times[name]!.push(await epoch(sides[name]));
  console.log(
    `rep ${r + 1}/${reps}: ${Object.entries(times)
      .map(([k, v]) => `${k} ${v.at(-1)!.toFixed(2)} s`)
      .join(', ')} (load ${loads.at(-1)!.toFixed(2)})`,
  );
}
const row = (name: string) => `| ${name} | ${median(times[name]!).toFixed(2)} s | ${times[name]!.map((t) => t.toFixed(2)).join(', ')} |`;
const md = `# Stored vs live teacher (${examples} Fashion-MNIST examples, one KD epoch, batch 64, backend ${tf.getBackend()})

| teacher | epoch (median of ${reps}) | reps |
|---|---:|---|
${Object.keys(sides).map(row).join('\n')}

Speed-up of the stored teacher: CNN ${(median(times['cnn live']!) / median(times['cnn stored']!)).toFixed(2)}x, two-teacher ensemble ${(median(times['ensemble live']!) / median(times['ensemble stored']!)).toFixed(2)}x. Load at each rep: ${loads.map((l) => l.toFixed(2)).join(', ')}.

| store | precompute | bytes per example |
|---|---:|---:|
${Object.entries(stores)
  .map(([k, v]) => `| ${k} | ${v.seconds.toFixed(1)} s | ${v.bytesPerExample.toFixed(1)} |`)
  .join('\n')}

Logits only (10 classes): 40 bytes of float32 or 20 of float16 per example, plus the id and Arrow framing.
`;
await mkdir(out, { recursive: true });
await writeFile(
  join(out, 'results.json'),
  `${JSON.stringify({ examples, reps, backend: tf.getBackend(), times, loads, stores }, null, 2)}\n`,
);
await writeFile(join(out, 'results.md'), md);
console.log(md);
single.dispose();
for (const m of members) m.dispose();
