/**
 * End-to-end step time of CRD with reference scoring (`crd({ scoring: 'gather', sampling:
 * 'reference' })`: K class-aware negatives per anchor, `[B, K, d] x [B, d, 1]` scores) on the
 * patched wasm backend, for @kd/backend-wasm's regression benchmark (its README shows the table).
 * One Distiller step of `1*ce + 0.8*crd` on the bench's Fashion-MNIST CNN pair (teacher
 * conv32-conv64-dense128, student conv8-conv16-dense32; synthetic 28x28x1 images, 10 classes),
 * batch B, K negatives, featureDim d, N examples, teacher cache off.
 *
 * Sides: `kd` (the @kd/backend-wasm build the workspace links, its dist/) and, with --baseline,
 * another build of that package (`node packages/backend-wasm/bench/baseline.mjs --rev <rev>`
 * prints its path). Each side keeps one Distiller; after --warmup untimed steps each, the sides
 * take turns (A B A B ...), --reps turns of one `fit` call of --steps steps; a step is timed from
 * the epoch-start event (after fit's own data checks) or the previous step-end event to its
 * step-end event. Medians; load average before and after. Prints a table, writes JSON (default
 * packages/backend-wasm/bench/crd-step.json).
 *
 *   pnpm --filter kd-bench exec node --import tsx src/speed/crdScoring.ts [--reps 5] [--steps 2] [--warmup 3]
 *     [--negatives 4096] [--batch 64] [--feature-dim 128] [--n 16384] [--baseline <path>] [--out <file>]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as kdWasm from '@kd/backend-wasm';
import { integerFlag, scriptArguments, usageExit } from '@kd/cli/flags';
import { adam, Distiller, hardLabel } from '@kd/core';
import { crd } from '@kd/crd';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { Command } from 'commander';
import { cnn, FULL_SIZES } from '../quality/models';

/** The parsed flags (commander's camel-case keys). */
interface Flags {
  readonly reps: number;
  readonly steps: number;
  readonly warmup: number;
  readonly negatives: number;
  readonly batch: number;
  readonly featureDim: number;
  readonly n: number;
  readonly baseline?: string;
  readonly out?: string;
}

const positive = (flag: string) => integerFlag(flag, { min: 1 });
const flags = new Command('node --import tsx src/speed/crdScoring.ts')
  .description(
    "End-to-end step time of CRD with reference scoring on the patched wasm backend, for @kd/backend-wasm's regression benchmark.",
  )
  .option('--reps <n>', 'interleaved turns per side', positive('--reps'), 5)
  .option('--steps <n>', 'steps of one turn (one fit call)', positive('--steps'), 2)
  .option('--warmup <n>', 'untimed steps per side first', positive('--warmup'), 3)
  .option('--negatives <k>', 'CRD negatives per anchor', positive('--negatives'), 4096)
  .option('--batch <b>', 'batch size', positive('--batch'), 64)
  .option('--feature-dim <d>', "CRD's embedding size", positive('--feature-dim'), 128)
  .option('--n <n>', 'examples', positive('--n'), 16384)
  .option(
    '--baseline <path>',
    'another build of @kd/backend-wasm to time against (node packages/backend-wasm/bench/baseline.mjs --rev <rev>)',
  )
  .option('--out <file>', 'JSON output (default: packages/backend-wasm/bench/crd-step.json)')
  .exitOverride(usageExit) // a bad flag exits with status 2
  .parse(scriptArguments())
  .opts<Flags>();
const { reps, steps, warmup, negatives: K, batch: B, featureDim: D, n: N } = flags;
const out = resolve(flags.out ?? resolve(import.meta.dirname, '../../../../packages/backend-wasm/bench/crd-step.json'));

interface Patcher {
  patchWasmKernels(): unknown;
  unpatchWasmKernels(): void;
}
await kdWasm.useWasmTraining();
const baseline: Patcher | undefined = flags.baseline ? await import(pathToFileURL(resolve(flags.baseline)).href) : undefined;
const sides: Record<string, Patcher> = { kd: kdWasm, ...(baseline ? { baseline } : {}) };
function activate(side: string): void {
  for (const p of Object.values(sides)) p.unpatchWasmKernels();
  sides[side]!.patchWasmKernels();
}
const uptime = () => {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return '(uptime unavailable)';
  }
};

const x = tf.randomUniform([N, 28, 28, 1], 0, 1, 'float32', 1);
const y = tf.tensor1d(
  Int32Array.from({ length: N }, (_, i) => (i * 7919) % 10),
  'int32',
);

function makeDistiller() {
  const [t1, t2, t3] = FULL_SIZES.teacher;
  const [s1, s2, s3] = FULL_SIZES.cnnStudent;
  const teacher = cnn('teacher', t1, t2, t3, 11);
  const student = cnn('student', s1, s2, s3, 21);
  const optimizer = adam({ learningRate: 1e-3 });
  const distiller = new Distiller({ student, teacher, optimizer, seed: 3, teacherCache: 'off' }).use(
    hardLabel({ weight: 1 }),
    crd({
      student: 'student_pool',
      teacher: 'teacher_pool',
      negatives: K,
      featureDim: D,
      sampling: 'reference',
      scoring: 'gather',
      weight: 0.8,
    }),
  );
  let done = 0;
  return {
    /**
     * Runs `n` steps in one `fit` call; returns the ms of each, from the epoch-start event (after
     * fit's own checks of the data) or the previous step-end event to its step-end event.
     */
    async steps(n: number): Promise<number[]> {
      const times: number[] = [];
      let last = 0;
      await distiller.fit(
        { x, y },
        {
          epochs: 1 + Math.floor((done + n) / Math.floor(N / B)),
          batchSize: B,
          maxSteps: done + n,
          onEvent: (e) => {
            if (e.type === 'epoch-start') last = performance.now();
            if (e.type !== 'step-end') return;
            const now = performance.now();
            times.push(now - last);
            last = now;
          },
        },
      );
      done += n;
      return times;
    },
    dispose() {
      distiller.dispose();
      optimizer.dispose();
      student.dispose();
      teacher.dispose();
    },
  };
}

const median = (v: readonly number[]) => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const loadBefore = uptime();
console.error(loadBefore);
const runs = Object.fromEntries(Object.keys(sides).map((s) => [s, { distiller: makeDistiller(), ms: [] as number[] }]));
for (const side of Object.keys(sides)) {
  activate(side);
  await runs[side]!.distiller.steps(warmup); // sets CRD's normaliser Z; V8 compiles the kernels' loops
  console.error(`warm-up done: ${side}`);
}
for (let r = 0; r < reps; r++) {
  for (const side of Object.keys(sides)) {
    activate(side);
    runs[side]!.ms.push(...(await runs[side]!.distiller.steps(steps)));
    console.error(`rep ${r + 1}/${reps} ${side}: ${runs[side]!.ms.at(-1)!.toFixed(0)} ms`);
  }
}
activate('kd');
const loadAfter = uptime();
const results = Object.entries(runs).map(([side, r]) => ({
  side,
  msMedian: median(r.ms),
  msMin: Math.min(...r.ms),
  msMax: Math.max(...r.ms),
  ms: r.ms,
}));
for (const r of Object.values(runs)) r.distiller.dispose();

console.log(
  `CRD gather-scoring step (1*ce + 0.8*crd(reference, gather)), CNN teacher 32-64-128 / student 8-16-32, B=${B} K=${K} d=${D} N=${N}; ` +
    `wasm SIMD, 1 thread, ${cpus()[0]?.model ?? '?'} x ${cpus().length}, Node ${process.version}; ${reps} x ${steps} interleaved steps per side after ${warmup}`,
);
console.log(`before: ${loadBefore}`);
console.log(`after:  ${loadAfter}`);
console.log('| side | ms/step (median) | min | max |');
console.log('|---|---:|---:|---:|');
for (const r of results) {
  const name = r.side === 'baseline' ? `baseline (${flags.baseline})` : 'kd (this build)';
  console.log(`| ${name} | ${r.msMedian.toFixed(0)} | ${r.msMin.toFixed(0)} | ${r.msMax.toFixed(0)} |`);
}
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model, cores: cpus().length, B, K, d: D, N, reps, steps, warmup, baseline: flags.baseline ?? null, loadBefore, loadAfter, results }, null, 1)}\n`,
);
