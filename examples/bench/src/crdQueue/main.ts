/**
 * CRD with memory banks against CRD with queue memory (`@kd/crd`'s `memory: 'queue'`) at the
 * quality bench's regime (ii): the CNN teacher of the quality bench (from its cache, trained there
 * with its settings when missing), the CNN student, the 1,800-example transfer set, `ce 1 + w crd`.
 * Per seed the same split, teacher, student initialisation and data order; only CRD's memory
 * differs. Reports, per variant, the bytes of the CRD state (heads + banks or queues: what the
 * plugin checkpoints, plus the queue's ids held on the host) and the test accuracy.
 *
 * A queue size K >= N (the transfer set's examples) is not clamped: `@kd/crd` refuses it in the
 * plugin's `setup`, before any step, with `too-many-negatives` (the NCE noise constant is K/N, and
 * a queue of N or more entries would hold every example and more bytes than the banks). The bench
 * runs that variant up to the refusal and records it as a refused row (code and message), so a
 * grid such as 256,1024,4096 at N = 1,800 still runs its other variants; any other error stops it.
 * `pnpm --filter kd-bench crd-queue [-- --quick] [--seeds 1,2,3] [--queue-sizes 256,1024,4096] [--teachers DIR] [--out DIR]`.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { useBestBackend } from '@kd/backend-gpu';
import { integerListFlag, numberFlag, scriptArguments, usageExit } from '@kd/cli/flags';
import { type DistillationPlugin, Distiller, evaluateModel, hardLabel, isDistillationError, type LabeledData } from '@kd/core';
import { crd } from '@kd/crd';
import { take } from '@kd/data';
import { loadFashionMnist } from '@kd/data/node';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { Command } from 'commander';
import '@tensorflow/tfjs-layers';
import { cnn } from '../quality/models';
import { type RegimeTwoFlags, regimeTwoFlags, regimeTwoOptions } from '../quality/regimeTwo';
import { meanStd } from '../quality/report';
import { DEFAULT_HYPER, type QualityOptions, seedData, type TeacherRecord, teacherFor } from '../quality/run';

/** The parsed flags (commander's camel-case keys). */
interface Flags extends RegimeTwoFlags {
  readonly queueSizes?: number[];
  readonly crdWeight: number;
  readonly out?: string;
}

const program = regimeTwoFlags(
  new Command('pnpm --filter kd-bench crd-queue')
    .usage('[-- options]')
    .description("CRD with memory banks against CRD with queue memory at the quality bench's regime (ii), seed by seed."),
)
  .option(
    '--queue-sizes <list>',
    'queue sizes K, one variant each (default: 256,1024,4096; 32,64 with --quick)',
    integerListFlag('--queue-sizes', { min: 1 }),
  )
  .option('--crd-weight <w>', 'weight of the CRD term', numberFlag('--crd-weight', { min: 0 }), 0.4)
  .option('--out <dir>', 'output folder (default: out/crd-queue; out/crd-queue-quick with --quick)')
  .exitOverride(usageExit) // a bad flag exits with status 2
  .parse(scriptArguments());
const flags = program.opts<Flags>();
const quick = flags.quick === true;
const here = resolve(import.meta.dirname, '..', '..');
const out = resolve(flags.out ?? join(here, quick ? 'out/crd-queue-quick' : 'out/crd-queue'));
const choice = await useBestBackend(flags.backend);
const uptime = () => execFileSync('uptime', { encoding: 'utf8' }).trim();
const uptimeStart = uptime();
console.log(`Backend: ${choice.description}; ${uptimeStart}`);

const o: QualityOptions = regimeTwoOptions({
  flags,
  methods: ['crd'],
  hyper: { ...DEFAULT_HYPER, crdWeight: flags.crdWeight, featureDim: quick ? 32 : DEFAULT_HYPER.featureDim },
  backend: choice.description,
});
const queueSizes = flags.queueSizes ?? (quick ? [32, 64] : [256, 1024, 4096]);

/** One variant of CRD's memory. */
interface Variant {
  readonly name: string;
  readonly memory: 'banks' | 'queue';
  /** Negatives per anchor: the banks' K (shared variant, as the quality bench), or the queue size. */
  readonly negatives: number;
}
/** The quality bench's CRD: memory banks, shared negatives, K = min(4096, N - B - 1). */
const bankNegatives = Math.min(DEFAULT_HYPER.negatives, o.smallSize - o.batchSize - 1);
const variants: Variant[] = [
  { name: 'banks', memory: 'banks', negatives: bankNegatives },
  ...queueSizes.map((k) => ({ name: `queue K=${k}`, memory: 'queue' as const, negatives: k })),
];

function plugin(v: Variant): DistillationPlugin<unknown> {
  const common = { student: 'student_pool', teacher: 'teacher_pool', featureDim: o.hyper.featureDim, weight: o.hyper.crdWeight };
  const p =
    v.memory === 'banks'
      ? crd({ ...common, negatives: v.negatives, sampling: 'shared' })
      : crd({ ...common, memory: 'queue', queueSize: v.negatives });
  return p as unknown as DistillationPlugin<unknown>;
}

/** A variant the plugin refused in `setup` (a queue of K >= N): no step ran. */
interface Refusal {
  readonly code: string;
  readonly message: string;
}

interface VariantRun {
  readonly variant: string;
  /** Set when `@kd/crd` refused the variant before its first step (then no accuracy, no state). */
  readonly refused?: Refusal;
  readonly memory: 'banks' | 'queue';
  readonly negatives: number;
  readonly description: string;
  /** Bytes of the CRD plugin's tensors (heads + banks or queues), as checkpointed. */
  readonly stateBytes: number;
  /** Bytes of the banks or queues alone (2 * rows * featureDim * 4). */
  readonly memoryBytes: number;
  /** Host bytes of the queue's example ids (4 * K; 0 for the banks). */
  readonly idBytes: number;
  readonly lastTest: number | null;
  readonly curve: readonly { step: number; test: number }[];
  readonly steps: number;
  readonly trainSeconds: number;
  readonly load: number;
}
interface SeedResult {
  readonly seed: number;
  readonly teacher: TeacherRecord;
  readonly transferExamples: number;
  readonly runs: VariantRun[];
}

async function accuracy(model: tfl.LayersModel, data: LabeledData): Promise<number> {
  return (await evaluateModel(model, data, { batchSize: 500 })).accuracy;
}

/** Trains the quality bench's CNN student of `seed` with `ce 1 + w crd` and one memory variant. */
async function runVariant(seed: number, v: Variant, data: LabeledData, teacher: tfl.LayersModel, test: LabeledData): Promise<VariantRun> {
  const [c1, c2, d] = o.sizes.cnnStudent;
  const model = cnn('student', c1, c2, d, seed * 1000 + 500); // the quality bench's student of this seed
  const optimizer = tf.train.adam(o.learningRate); // as the quality bench
  const distiller = new Distiller({ student: model, teacher, optimizer, seed: seed * 7919 + 13 })
    .use(hardLabel({ weight: 1 }))
    .use(plugin(v));
  const examples = data.x.shape[0]!;
  const fullSteps = Math.ceil(o.trainSize / o.batchSize);
  const epochsPerRound = Math.max(1, Math.round(fullSteps / Math.ceil(o.smallSize / o.batchSize)));
  const load = loadavg()[0]!;
  const curve: { step: number; test: number }[] = [];
  let trainSeconds = 0;
  let stateBytes = 0;
  let idBytes = 0;
  let refused: Refusal | undefined;
  const description = distiller.describe();
  try {
    for (let r = 1; r <= o.epochs; r++) {
      const t0 = performance.now();
      await distiller.fit(data, { epochs: r * epochsPerRound, batchSize: o.batchSize });
      trainSeconds += (performance.now() - t0) / 1000;
      if (r === 1) {
        const saved = (await distiller.checkpoint()).plugins['crd']!;
        stateBytes = saved.tensors.reduce((sum, t) => sum + t.values.byteLength, 0);
        const ids = (saved.json as { critics?: { ids: number[] }[] }).critics?.[0]?.ids;
        idBytes = ids ? 4 * ids.length : 0;
      }
      curve.push({ step: r * epochsPerRound * Math.ceil(examples / o.batchSize), test: await accuracy(model, test) });
    }
  } catch (error) {
    // Only the documented refusal of a queue of K >= N, before the first step; anything else stops the bench.
    if (!(v.memory === 'queue' && curve.length === 0 && isDistillationError(error, 'too-many-negatives'))) throw error;
    refused = { code: error.code, message: error.message };
  } finally {
    distiller.dispose();
    optimizer.dispose();
    model.dispose();
  }
  const rows = v.memory === 'banks' ? examples : v.negatives;
  return {
    variant: v.name,
    ...(refused ? { refused } : {}),
    memory: v.memory,
    negatives: v.negatives,
    description,
    stateBytes,
    memoryBytes: 2 * rows * o.hyper.featureDim * 4,
    idBytes,
    lastTest: curve.at(-1)?.test ?? null,
    curve,
    steps: curve.at(-1)?.step ?? 0,
    trainSeconds,
    load,
  };
}

const started = performance.now();
const { train, test: fullTest } = await loadFashionMnist();
const test =
  o.testSize < fullTest.x.shape[0]!
    ? take(
        fullTest,
        Array.from({ length: o.testSize }, (_, i) => i),
      )
    : fullTest;
if (test !== fullTest) tf.dispose([fullTest.x, fullTest.y]);
const seeds: SeedResult[] = [];
const dispose = (...data: LabeledData[]) => {
  for (const d of data) tf.dispose([d.x, d.y]);
};
try {
  for (const seed of o.seeds) {
    const data = seedData(train, seed, o);
    const { model: teacher, record } = await teacherFor(seed, data.pool, data.validation, test, o);
    console.log(`seed ${seed}: teacher test ${(record.test * 100).toFixed(2)} % (${record.loaded ? 'cached' : 'trained'})`);
    const runs: VariantRun[] = [];
    for (const v of variants) {
      const run = await runVariant(seed, v, data.small, teacher, test);
      runs.push(run);
      if (run.refused) {
        console.log(`seed ${seed} ${v.name.padEnd(14)} refused by @kd/crd (${run.refused.code}): ${run.refused.message}`);
        continue;
      }
      console.log(
        `seed ${seed} ${v.name.padEnd(14)} test ${(run.lastTest! * 100).toFixed(2)} % (curve ${run.curve.map((p) => (p.test * 100).toFixed(2)).join(', ')}), CRD state ${(run.stateBytes / 1024).toFixed(1)} KiB, ${run.steps} steps in ${run.trainSeconds.toFixed(1)} s (load ${run.load.toFixed(2)})`,
      );
    }
    seeds.push({ seed, teacher: record, transferExamples: data.small.x.shape[0]!, runs });
    teacher.dispose();
    dispose(data.validation, data.small, data.pool, data.omitted);
  }
} finally {
  dispose(train, test);
}

const summary = variants.map((v) => {
  const runs = seeds.map((s) => s.runs.find((r) => r.variant === v.name)!);
  const refused = runs.find((r) => r.refused)?.refused;
  const common = { variant: v.name, memory: v.memory, negatives: v.negatives, memoryBytes: runs[0]!.memoryBytes };
  if (refused) return { ...common, refused, stateBytes: null, idBytes: null, accuracy: null, minusBanks: null };
  const accuracies = runs.map((r) => r.lastTest!);
  const banks = seeds.map((s) => s.runs.find((r) => r.memory === 'banks')!.lastTest!);
  const minusBanks = accuracies.map((a, i) => a - banks[i]!);
  return {
    ...common,
    stateBytes: runs[0]!.stateBytes,
    idBytes: runs[0]!.idBytes,
    accuracy: { ...meanStd(accuracies), values: accuracies },
    minusBanks: { ...meanStd(minusBanks), values: minusBanks },
  };
});
const uptimeEnd = uptime();
const seconds = (performance.now() - started) / 1000;

const pct = (a: number) => (a * 100).toFixed(2);
const kib = (b: number) => (b / 1024).toFixed(1);
const points = (d: number) => `${d >= 0 ? '+' : '−'}${Math.abs(d * 100).toFixed(2)}`;
const first = seeds[0]!;
const md = `# CRD memory: banks vs queue (regime ii, ${o.seeds.length} seed${o.seeds.length > 1 ? 's' : ''})

CNN teacher ${o.sizes.teacher.join('-')} (${o.teacherEpochs} epochs on ${o.trainSize} examples, ${o.validationSize} held out) -> CNN student ${o.sizes.cnnStudent.join('-')}, ${first.runs[0]!.description} (banks: shared negatives, K = ${bankNegatives}, as the quality bench), featureDim ${o.hyper.featureDim}, Adam ${o.learningRate}, batch ${o.batchSize}, transfer set of ${first.transferExamples} examples (N), ${first.runs[0]!.steps} steps, test accuracy on ${o.testSize} test images after the last round; backend ${choice.description}.

| variant | negatives | banks / queues (KiB) | CRD state (KiB) | queue ids (KiB) | test accuracy (%) | − banks (points) |
|---|---:|---:|---:|---:|---:|---:|
${summary
  .map((s) =>
    s.accuracy === null
      ? `| ${s.variant} | ${s.negatives} | (${kib(s.memoryBytes)}) | — | — | refused: ${s.refused?.code} (K = ${s.negatives} >= N = ${first.transferExamples}) | — |`
      : `| ${s.variant} | ${s.negatives} | ${kib(s.memoryBytes)} | ${kib(s.stateBytes!)} | ${kib(s.idBytes!)} | ${pct(s.accuracy.mean)}${o.seeds.length > 1 ? ` ± ${pct(s.accuracy.std)}` : ''} | ${s.memory === 'banks' ? '—' : `${points(s.minusBanks!.mean)}${o.seeds.length > 1 ? ` ± ${(s.minusBanks!.std * 100).toFixed(2)}` : ''}`} |`,
  )
  .join('\n')}

Banks: 2 x N x featureDim x 4 bytes; queues: 2 x K x featureDim x 4 bytes (+ 4 x K bytes of ids on the host), whatever N. CRD state: every tensor the plugin checkpoints (the two heads too).
A queue of K >= N is refused by \`@kd/crd\` in setup, before any step (\`too-many-negatives\`: the noise constant is K/N, and such a queue would hold every example, in more bytes than the banks: the bytes in parentheses); the bench records the refusal instead of clamping K.
Per seed: ${seeds.map((s) => `seed ${s.seed} teacher ${pct(s.teacher.test)} % (${s.teacher.loaded ? 'cached' : 'trained'}): ${s.runs.map((r) => `${r.variant} ${r.lastTest === null ? 'refused' : pct(r.lastTest)}`).join(', ')}`).join('; ')}.
Training s per run: ${seeds.flatMap((s) => s.runs.filter((r) => !r.refused).map((r) => `${s.seed}/${r.variant} ${r.trainSeconds.toFixed(0)}`)).join(', ')}.
Wall ${seconds.toFixed(0)} s. Load: start \`${uptimeStart}\`, end \`${uptimeEnd}\`.
`;
await mkdir(out, { recursive: true });
const { log: _log, ...options } = o;
await writeFile(
  join(out, 'crd-queue.json'),
  `${JSON.stringify({ options, queueSizes, bankNegatives, seeds, summary, seconds, uptime: { start: uptimeStart, end: uptimeEnd } }, null, 2)}\n`,
);
await writeFile(join(out, 'crd-queue.md'), md);
console.log(`\n${md}\nWrote ${join(out, 'crd-queue.json')} and crd-queue.md`);
