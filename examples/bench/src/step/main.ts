/**
 * Issue 16's step benchmark: one KD student step with the teacher's outputs already computed
 * (cached), for the bench's CNN and MLP students, and the CNN teacher's forward pass, measured
 * on three sides in one run, interleaved (A B C A B C ...), medians of the reps, 1 thread each:
 *   - `distiller`: a kd Distiller (0.1*ce + 0.9*kd(T=4), kd's Adam lr 1e-3, batch 64) whose
 *     teacher cache is full, so each step is the student's alone: what users run;
 *   - `loop`: a hand-written tfjs loop of the same math and kernels (gather the batch of a shuffled order, forward,
 *     hardLabelLoss + softTargetLossFromLogits, variableGrads under withLeanSaves, kd's Adam). The trainer's own overhead
 *     is measured with the two alternating step by step (a loop step runs in each of the Distiller's step-end events,
 *     so both see the same machine from one step to the next): per rep the median step of each (and the
 *     mean, which also counts preemptions and garbage collections), and the overhead is the median over
 *     reps of `distiller / loop - 1`;
 *   - `torch`: PyTorch (src/step/peer_step.py, kept alive and driven over stdin), the same
 *     models, batch, loss and Adam, teacher logits computed for the whole set before the clock
 *     starts; each step gathers its batch (images, labels, teacher logits) from the same number
 *     of examples in a fresh random order per rep, as both kd sides do.
 * Also counts kernels per step (by name) on our side, and the process's CPU time per step of both
 * kd sides over the same window (less sensitive than wall time to other jobs on a shared machine:
 * time spent waiting for a core is not counted). Prints a table, writes JSON.
 *   pnpm --filter kd-bench step [-- --reps 5] [--steps 50] [--backend wasm] [--native] [--peer torch|none] [--quick]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { type BackendName, useBestBackend } from '@kd/backend-gpu';
import { backendOption, integerFlag, scriptArguments, usageExit } from '@kd/cli/flags';
import {
  adam,
  Distiller,
  hardLabel,
  hardLabelLoss,
  type ProgressListener,
  softTargetLossFromLogits,
  softTargets,
  withLeanSaves,
} from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { Command, Option } from 'commander';
import { cnn, mlp } from '../quality/models';
import { median } from '../stream/run';
import { kdPackagesLine } from './kdPackages';

/** The parsed flags (commander's camel-case keys). */
interface Flags {
  readonly reps: number;
  readonly steps: number;
  readonly backend: BackendName | 'auto';
  readonly python: string;
  readonly peer: 'torch' | 'none';
  readonly native?: boolean;
  readonly quick?: boolean;
  readonly out?: string;
}

const flags = new Command('pnpm --filter kd-bench step')
  .usage('[-- options]')
  .description(
    "One KD student step with the teacher's outputs cached, and the CNN teacher's forward pass: a kd Distiller, a hand-written tfjs loop and PyTorch, interleaved.",
  )
  .option('--reps <n>', 'interleaved reps (2 with --quick)', integerFlag('--reps', { min: 1 }), 5)
  .option('--steps <n>', 'steps per rep (4 with --quick)', integerFlag('--steps', { min: 2 }), 50)
  .addOption(backendOption('wasm'))
  .option('--python <path>', 'Python of the PyTorch side', '/usr/bin/python3')
  .addOption(new Option('--peer <name>', 'the peer side').choices(['torch', 'none']).default('torch'))
  .option('--native', "@kd/backend-native's kernels on top of the backend")
  .option('--quick', '2 reps of 4 steps')
  .option('--out <dir>', 'output folder (default: results/step; results/step-quick with --quick)')
  .exitOverride(usageExit) // a bad flag exits with status 2
  .parse(scriptArguments())
  .opts<Flags>();
const quick = flags.quick === true;
const reps = quick ? 2 : flags.reps;
const steps = quick ? 4 : flags.steps;
const here = resolve(import.meta.dirname, '..', '..');
const out = resolve(flags.out ?? join(here, 'results', quick ? 'step-quick' : 'step'));
const choice = await useBestBackend(flags.backend);
let backendLine = choice.description;
const packagesLine = kdPackagesLine();
if (flags.native) {
  const { useNativeKernels } = await import('@kd/backend-native');
  const report = await useNativeKernels({ wasmTraining: false });
  if (!report.active) throw new Error(`--native: the native kernels are off: ${report.reason}`);
  backendLine = `${choice.description} + ${report.description}`;
}
const BATCH = 64;
const T = 4;
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** The PyTorch side: one child process, one JSON command per line. */
function torchPeer() {
  const child = spawn(flags.python, [join(import.meta.dirname, 'peer_step.py'), '1', String(examples)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  // A peer that cannot start (no PyTorch) closes its stdin: say why instead of dying of EPIPE.
  let ended: string | undefined;
  const why = () =>
    `peer_step.py ended (${ended ?? 'no answer'}); is PyTorch installed for ${flags.python} (apt-get install -y python3-torch)? Or run with --peer none`;
  child.on('exit', (code, signal) => {
    ended = signal ? `signal ${signal}` : `exit code ${code}`;
  });
  child.on('error', (error) => {
    ended = error.message; // e.g. spawn ENOENT: no such Python
  });
  child.stdin!.on('error', () => undefined); // reported by time() below
  return {
    async time(what: string, n: number): Promise<{ ms: number; torch: string }> {
      if (ended) throw new Error(why());
      child.stdin!.write(`${JSON.stringify({ op: 'time', what, steps: n })}\n`);
      const next = await lines.next();
      if (next.done) throw new Error(`${why()}, before answering "${what}"`);
      return JSON.parse(next.value) as { ms: number; torch: string };
    },
    quit: () => child.stdin!.end(`${JSON.stringify({ op: 'quit' })}\n`),
  };
}

const examples = BATCH * steps;
const mean = (a: readonly number[]) => a.reduce((sum, v) => sum + v, 0) / a.length;
const x = tf.randomUniform([examples, 28, 28, 1], 0, 1, 'float32', 1);
const y = tf.randomUniform([examples], 0, 10, 'int32', 2) as tf.Tensor1D;
const teacher = cnn('teacher', 32, 64, 128, 1);
const students: Record<string, () => tfl.LayersModel> = {
  'cnn-kd': () => cnn('cnn_student', 8, 16, 32, 5),
  'mlp-kd': () => mlp('mlp_student', 64, 32, 5),
};

/** This process's CPU time (user + system, all threads) in ms. */
const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** A Distiller whose teacher cache holds every example (one untimed epoch first). */
async function distillerSide(build: () => tfl.LayersModel) {
  const cpu: number[] = [];
  const student = build();
  const optimizer = adam({ learningRate: 1e-3 });
  const d = new Distiller({ student, teacher, optimizer, seed: 1 }).use(
    hardLabel({ weight: 0.1 }),
    softTargets({ temperature: T, weight: 0.9 }),
  );
  let epochs = 1;
  await d.fit({ x, y }, { epochs, batchSize: BATCH });
  const oneMoreEpoch = (onEvent: ProgressListener) => d.fit({ x, y }, { epochs: ++epochs, batchSize: BATCH, onEvent });
  return {
    /**
     * ms per step of one more epoch: from the first step's end to the last's, over `steps - 1`
     * steps, so the fit's own setup (checks, fingerprints, the epoch's order) is not in it.
     */
    async time(): Promise<number> {
      const ends: number[] = [];
      let cpuFirst = 0;
      let cpuLast = 0;
      await oneMoreEpoch((e) => {
        if (e.type !== 'step-end') return;
        ends.push(performance.now());
        cpuLast = cpuNow();
        if (ends.length === 1) cpuFirst = cpuLast;
      });
      cpu.push((cpuLast - cpuFirst) / (ends.length - 1));
      return (ends.at(-1)! - ends[0]!) / (ends.length - 1);
    },
    /**
     * One more epoch with `between` (a step of another side) run after each Distiller step, so the
     * two alternate step by step (A B A B) under the same machine conditions. Returns the ms of each
     * step of each side, wall and CPU: every `between` step, and the Distiller's after its first
     * (from one listener's end to the next one's start; each window includes one clock read of the
     * other side's kind, so neither is favoured).
     */
    async timePaired(
      between: () => Promise<void>,
    ): Promise<{ distiller: number[]; other: number[]; distillerCpu: number[]; otherCpu: number[] }> {
      const result = { distiller: [] as number[], other: [] as number[], distillerCpu: [] as number[], otherCpu: [] as number[] };
      let end = 0;
      let cpuEnd = 0;
      await oneMoreEpoch(async (e) => {
        if (e.type !== 'step-end') return;
        const start = performance.now();
        const cpuStart = cpuNow();
        if (end > 0) {
          result.distiller.push(start - end);
          result.distillerCpu.push(cpuStart - cpuEnd);
        }
        await between();
        end = performance.now();
        cpuEnd = cpuNow();
        result.other.push(end - start);
        result.otherCpu.push(cpuEnd - cpuStart);
      });
      return result;
    },
    /** CPU ms per step of each timed epoch (same window as the wall time). */
    cpu,
    hits: () => d.teacherCacheStats()?.hits ?? 0,
    dispose() {
      d.dispose();
      optimizer.dispose();
      student.dispose();
    },
  };
}

/**
 * `0.1 * ce + 0.9 * kd` with the gradient the Distiller's weighted total has (`dy * weight` per
 * term), so the loop runs the Distiller's kernels: `tf.mul` + `tf.add` would add a `Cast` per term
 * and two `Reshape`s to the backward pass.
 */
const w1 = tf.scalar(0.1);
const w2 = tf.scalar(0.9);
const weighted = tf.customGrad(((ce: tf.Tensor, kd: tf.Tensor) => ({
  value: tf.add(tf.mul(ce, w1), tf.mul(kd, w2)),
  gradFunc: (dy: tf.Tensor) => [tf.mul(dy, w1), tf.mul(dy, w2)],
})) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (ce: tf.Scalar, kd: tf.Scalar) => tf.Scalar;

/** The same step by hand: gather, forward, the two losses, variableGrads, kd's Adam. */
function loopSide(build: () => tfl.LayersModel) {
  const student = build();
  const optimizer = adam({ learningRate: 1e-3 });
  const logits = tf.tidy(() => teacher.predict(x) as tf.Tensor2D);
  const step = (rows: Int32Array) =>
    tf.tidy(() => {
      const index = tf.tensor1d(rows, 'int32');
      const bx = tf.gather(x, index);
      const by = tf.gather(y, index) as tf.Tensor1D;
      const bt = tf.gather(logits, index) as tf.Tensor2D;
      const { value, grads } = withLeanSaves(() =>
        tf.variableGrads(() => {
          const s = student.apply(bx, { training: true }) as tf.Tensor2D;
          // As the Distiller: the teacher's logits of the batch softened at T every step (logSoftmax(t / T)).
          return weighted(hardLabelLoss(s, by), softTargetLossFromLogits(s, bt, T));
        }),
      );
      optimizer.applyGradients(grads);
      return value;
    });
  let epoch = 0;
  let order = permutation(examples, 0);
  let next = 0;
  return {
    /**
     * One step of the loop: the next batch of its own seeded shuffled order, a fresh order per
     * epoch as the Distiller's (rows 0, 1, 2, ... would gather one contiguous block, faster than
     * scattered rows), the loss read back.
     */
    async step(): Promise<void> {
      if (next === steps) {
        order = permutation(examples, ++epoch);
        next = 0;
      }
      const loss = step(order.subarray(next * BATCH, (next + 1) * BATCH));
      next++;
      await loss.data();
      loss.dispose();
    },
    /** `steps` steps (the kernel count's window; also warms the loop). */
    async run(): Promise<void> {
      for (let s = 0; s < steps; s++) await this.step();
    },
    dispose() {
      optimizer.dispose();
      student.dispose();
      logits.dispose();
    },
  };
}

/** A permutation of 0..n-1 (Fisher-Yates over a 32-bit LCG seeded by `seed`). */
function permutation(n: number, seed: number): Int32Array {
  const p = Int32Array.from({ length: n }, (_, i) => i);
  let state = (seed * 2654435761) >>> 0;
  for (let i = n - 1; i > 0; i--) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const j = state % (i + 1);
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

/** Kernels dispatched by `fn`, by name (wrapping the engine's runKernel). */
async function kernelsOf(fn: () => Promise<unknown>): Promise<Record<string, number>> {
  const engine = tf.engine() as unknown as { runKernel: (name: string, ...rest: unknown[]) => unknown };
  const original = engine.runKernel;
  const counts: Record<string, number> = {};
  engine.runKernel = function (this: unknown, name: string, ...rest: unknown[]) {
    counts[name] = (counts[name] ?? 0) + 1;
    return original.call(this, name, ...rest);
  };
  try {
    await fn();
  } finally {
    engine.runKernel = original;
  }
  return counts;
}

const teacherBatch = tf.slice(x, 0, BATCH);
const teacherForward = async () => {
  const start = performance.now();
  for (let s = 0; s < steps; s++) {
    const out = teacher.predict(teacherBatch) as tf.Tensor;
    await out.data();
    out.dispose();
  }
  return (performance.now() - start) / steps;
};

interface Row {
  what: string;
  distiller?: number[];
  /** Median ms of the loop's steps, alternating step by step with the Distiller's (`pairedDistiller`), per rep. */
  loop?: number[];
  /** Median ms of the Distiller's steps in the same alternating epochs as `loop`, per rep. */
  pairedDistiller?: number[];
  /** Mean ms per step of the same steps as `loop` and `pairedDistiller`, per rep. */
  loopMean?: number[];
  pairedDistillerMean?: number[];
  distillerCpu?: number[];
  loopCpu?: number[];
  pairedDistillerCpu?: number[];
  torch?: number[];
  teacher?: number[];
  torchTeacher?: number[];
  kernelsPerStep?: number;
  loopKernelsPerStep?: number;
  kernels?: Record<string, number>;
  loadDuring: string[];
}

const peer = flags.peer === 'torch' ? torchPeer() : undefined;
let torchVersion = 'not run';
const rows: Row[] = [];
try {
  for (const [what, build] of Object.entries(students)) {
    const side = await distillerSide(build);
    const loop = loopSide(build);
    const row: Row = {
      what,
      distiller: [],
      loop: [],
      pairedDistiller: [],
      loopMean: [],
      pairedDistillerMean: [],
      loopCpu: [],
      pairedDistillerCpu: [],
      torch: [],
      loadDuring: [],
    };
    const counts = await kernelsOf(() => side.time());
    row.kernels = Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v / steps]));
    row.kernelsPerStep = Object.values(counts).reduce((a, b) => a + b, 0) / steps;
    const loopCounts = await kernelsOf(() => loop.run()); // also warms the loop
    row.loopKernelsPerStep = Object.values(loopCounts).reduce((a, b) => a + b, 0) / steps;
    for (let r = 0; r < reps; r++) {
      row.distiller!.push(await side.time());
      // The overhead: Distiller and loop steps alternating one by one in one epoch (A B A B).
      const paired = await side.timePaired(() => loop.step());
      // Per rep, each side's median step (robust to a preemption that hits one step of one side)
      // and its mean (which also counts those, and garbage collections).
      row.loop!.push(median(paired.other));
      row.pairedDistiller!.push(median(paired.distiller));
      row.loopMean!.push(mean(paired.other));
      row.pairedDistillerMean!.push(mean(paired.distiller));
      row.loopCpu!.push(median(paired.otherCpu));
      row.pairedDistillerCpu!.push(median(paired.distillerCpu));
      if (peer) {
        const p = await peer.time(what, steps);
        torchVersion = p.torch;
        row.torch!.push(p.ms);
      }
      row.loadDuring.push(load());
    }
    row.distillerCpu = side.cpu.slice(-reps);
    if (side.hits() === 0) throw new Error(`${what}: the teacher cache served no step; the timing would include the teacher`);
    side.dispose();
    loop.dispose();
    rows.push(row);
  }
  const row: Row = { what: 'teacher forward', teacher: [], torchTeacher: [], loadDuring: [] };
  await teacherForward();
  for (let r = 0; r < reps; r++) {
    row.teacher!.push(await teacherForward());
    if (peer) row.torchTeacher!.push((await peer.time('teacher', steps)).ms);
    row.loadDuring.push(load());
  }
  rows.push(row);
} finally {
  peer?.quit();
}

const fmt = (v: number | undefined, digits = 2) => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(digits));
const med = (a?: number[]) => (a && a.length > 0 ? median(a) : undefined);
/** Median over reps of each rep's `a[i] / b[i] - 1`, in %: the paired overhead. */
const pairedOverhead = (a: number[], b: number[]) => (median(a.map((v, i) => v / b[i]! - 1)) * 100).toFixed(1);
const lines = [
  `Backend: ${backendLine}; ${packagesLine}. PyTorch ${torchVersion}, 1 thread. Batch ${BATCH}, ${steps} steps per rep, ${reps} reps, interleaved; medians. Load (1/5/15 min) at start of table: ${load()}.`,
  '',
  '| step | kd Distiller (ms) | Distiller / hand-written loop, alternating steps, median step (ms) | trainer overhead (of mean steps) | overhead, CPU time | PyTorch (ms) | kd / PyTorch | kernels per step (Distiller / loop) | load during reps |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---|',
];
for (const r of rows) {
  if (r.teacher) {
    const ours = med(r.teacher);
    const theirs = med(r.torchTeacher);
    lines.push(
      `| CNN teacher forward | ${fmt(ours)} | - | - | - | ${fmt(theirs)} | ${ours && theirs ? `${(ours / theirs).toFixed(2)}x` : '-'} | - | ${r.loadDuring.join('; ')} |`,
    );
    continue;
  }
  const d = med(r.distiller)!;
  const pd = med(r.pairedDistiller)!;
  const l = med(r.loop)!;
  const t = med(r.torch);
  const dc = med(r.pairedDistillerCpu)!;
  const lc = med(r.loopCpu)!;
  lines.push(
    `| ${r.what === 'cnn-kd' ? 'CNN' : 'MLP'} student KD step (cached teacher) | ${fmt(d)} | ${fmt(pd)} / ${fmt(l)} | ${pairedOverhead(r.pairedDistiller!, r.loop!)} % (of means: ${pairedOverhead(r.pairedDistillerMean!, r.loopMean!)} %) | ${pairedOverhead(r.pairedDistillerCpu!, r.loopCpu!)} % (${fmt(dc)} / ${fmt(lc)}) | ${fmt(t)} | ${t ? `${(d / t).toFixed(2)}x` : '-'} | ${fmt(r.kernelsPerStep, 0)} / ${fmt(r.loopKernelsPerStep, 0)} | ${r.loadDuring.join('; ')} |`,
  );
}
const kernelLines = rows
  .filter((r) => r.kernels)
  .map(
    (r) =>
      `- ${r.what}: ${Object.entries(r.kernels!)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${fmt(v, 1)}`)
        .join(', ')}`,
  );
const report = [...lines, '', 'Kernels per step, by name:', ...kernelLines].join('\n');
console.log(report);
mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, 'results.json'),
  `${JSON.stringify({ backend: backendLine, packages: packagesLine, torch: torchVersion, batch: BATCH, steps, reps, rows, date: new Date().toISOString() }, null, 2)}\n`,
);
writeFileSync(join(out, 'results.md'), `${report}\n`);
for (const t of [x, y, teacherBatch, w1, w2]) t.dispose();
teacher.dispose();
