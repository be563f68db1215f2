/**
 * Where a Distiller step's time goes: the step bench's cached KD student step (0.1*ce + 0.9*kd(T=4),
 * kd's Adam, batch 64), with the engine's `runKernel` wrapped to time every kernel call (wasm and
 * native kernels run synchronously, so a call's time is its dispatch plus its compute). Prints,
 * per pair, the step's median time, the kernels' share, and the kernels by total time; writes JSON.
 *   pnpm --filter kd-bench step-profile [-- --steps 30] [--backend wasm|native] [--pairs cnn,mlp]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { type BackendName, useBestBackend } from '@kd/backend-gpu';
import { backendOption, choiceListFlag, integerFlag, scriptArguments, usageExit } from '@kd/cli/flags';
import { adam, Distiller, hardLabel, softTargets } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { Command, Option } from 'commander';
import { cnn, mlp } from '../quality/models';
import { median } from '../stream/run';
import { kdPackagesLine } from './kdPackages';

/** The student pairs profiled. */
const PAIRS = ['cnn', 'mlp'] as const;

/** The parsed flags (commander's camel-case keys). */
interface Flags {
  readonly steps: number;
  readonly backend: BackendName | 'auto';
  readonly pairs: (typeof PAIRS)[number][];
  readonly out?: string;
}

const flags = new Command('pnpm --filter kd-bench step-profile')
  .usage('[-- options]')
  .description("Where a Distiller step's time goes: every kernel call of the step bench's cached KD student step, timed.")
  .option('--steps <n>', 'steps timed per pair', integerFlag('--steps', { min: 2 }), 30)
  .addOption(backendOption('native'))
  .addOption(new Option('--pairs <list>', 'student pairs').argParser(choiceListFlag('--pairs', PAIRS)).default([...PAIRS], PAIRS.join(',')))
  .option('--out <dir>', 'output folder (default: results/step-profile)')
  .exitOverride(usageExit) // a bad flag exits with status 2
  .parse(scriptArguments())
  .opts<Flags>();
const steps = flags.steps;
const choice = await useBestBackend(flags.backend);
const packagesLine = kdPackagesLine();
const BATCH = 64;
const examples = BATCH * steps;
const x = tf.randomUniform([examples, 28, 28, 1], 0, 1, 'float32', 1);
const y = tf.randomUniform([examples], 0, 10, 'int32', 2) as tf.Tensor1D;
const teacher = cnn('teacher', 32, 64, 128, 1);
const builders: Record<(typeof PAIRS)[number], () => tfl.LayersModel> = {
  cnn: () => cnn('cnn_student', 8, 16, 32, 5),
  mlp: () => mlp('mlp_student', 64, 32, 5),
};

interface KernelRow {
  kernel: string;
  calls: number;
  ms: number;
}

const engine = tf.engine() as unknown as { runKernel: (name: string, ...rest: unknown[]) => unknown };
const original = engine.runKernel;

const report: Record<string, unknown> = {};
console.log(
  `backend: ${choice.description}; ${packagesLine}; load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
for (const pair of flags.pairs) {
  const student = builders[pair]();
  const optimizer = adam({ learningRate: 1e-3 });
  const d = new Distiller({ student, teacher, optimizer, seed: 1 }).use(
    hardLabel({ weight: 0.1 }),
    softTargets({ temperature: 4, weight: 0.9 }),
  );
  await d.fit({ x, y }, { epochs: 1, batchSize: BATCH }); // fills the teacher cache
  const byName = new Map<string, KernelRow>();
  let depth = 0;
  engine.runKernel = function (this: unknown, name: string, ...rest: unknown[]) {
    if (depth > 0) return original.call(this, name, ...rest); // kernels inside kernels count once
    depth++;
    const start = performance.now();
    try {
      return original.call(this, name, ...rest);
    } finally {
      const ms = performance.now() - start;
      depth--;
      const row = byName.get(name) ?? { kernel: name, calls: 0, ms: 0 };
      row.calls++;
      row.ms += ms;
      byName.set(name, row);
    }
  };
  const ends: number[] = [];
  try {
    await d.fit({ x, y }, { epochs: 2, batchSize: BATCH, onEvent: (e) => void (e.type === 'step-end' && ends.push(performance.now())) });
  } finally {
    engine.runKernel = original;
  }
  const stepMs = median(ends.slice(1).map((t, i) => t - ends[i]!));
  const rows = [...byName.values()].map((r) => ({ ...r, calls: r.calls / steps, ms: r.ms / steps })).sort((a, b) => b.ms - a.ms);
  const kernelMs = rows.reduce((s, r) => s + r.ms, 0);
  const calls = rows.reduce((s, r) => s + r.calls, 0);
  console.log(
    `\n${pair}: step ${stepMs.toFixed(3)} ms (median of ${steps - 1}); kernels ${kernelMs.toFixed(3)} ms in ${calls} calls per step (${((100 * kernelMs) / stepMs).toFixed(0)} %), the rest is JS outside kernels`,
  );
  console.log('| kernel | calls/step | ms/step | us/call |\n|---|---:|---:|---:|');
  for (const r of rows.slice(0, 18))
    console.log(`| ${r.kernel} | ${r.calls} | ${r.ms.toFixed(3)} | ${((1000 * r.ms) / r.calls).toFixed(1)} |`);
  report[pair] = { stepMs, kernelMs, callsPerStep: calls, kernels: rows };
  d.dispose();
  optimizer.dispose();
  student.dispose();
}
const out = resolve(flags.out ?? join(import.meta.dirname, '..', '..', 'results', 'step-profile'));
mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, `profile-${choice.name}.json`),
  `${JSON.stringify({ backend: choice.description, packages: packagesLine, load: loadavg(), steps, ...report }, null, 2)}\n`,
);
