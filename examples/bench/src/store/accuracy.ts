/**
 * Issue 15's accuracy number: the quality bench's regime-(ii) KD student distilled from a float32
 * and from a float16 store of its CNN teacher's outputs (`@kd/teacher-store`), seed by seed (same
 * seed: same split, teacher, student initialisation and data order, so the storage dtype is the
 * one difference), and, for the first seed, from the live teacher too (a float32 store should give
 * the same bits). Teachers come from the quality bench's cache (`<teachers>/teachers/...`, trained
 * there with its settings when missing).
 * `pnpm --filter kd-bench stored-teacher-accuracy [-- --quick] [--seeds 1,2,3] [--teachers DIR] [--out DIR]`.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { useBestBackend } from '@kd/backend-gpu';
import { numberFlag, scriptArguments, usageExit } from '@kd/cli/flags';
import type { LabeledData } from '@kd/core';
import { take } from '@kd/data';
import { loadFashionMnist } from '@kd/data/node';
import { precomputeTeacher, storedTeacher } from '@kd/teacher-store/node';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-layers';
import { Command } from 'commander';
import { type RegimeTwoFlags, regimeTwoFlags, regimeTwoOptions } from '../quality/regimeTwo';
import { meanStd } from '../quality/report';
import {
  DEFAULT_HYPER,
  logitsOf,
  type QualityOptions,
  type RunRecord,
  runMethod,
  seedData,
  type TeacherRecord,
  teacherFor,
} from '../quality/run';

/** The parsed flags (commander's camel-case keys). */
interface Flags extends RegimeTwoFlags {
  readonly temperature: number;
  readonly out?: string;
}

const flags = regimeTwoFlags(
  new Command('pnpm --filter kd-bench stored-teacher-accuracy')
    .usage('[-- options]')
    .description(
      "The quality bench's regime-(ii) KD student distilled from a float32 and from a float16 store of its CNN teacher's outputs, seed by seed (and from the live teacher for the first seed).",
    ),
)
  .option('--temperature <t>', 'KD temperature', numberFlag('--temperature', { above: 0 }), 2)
  .option('--out <dir>', 'output folder (default: results/store; out/store-accuracy-quick with --quick)')
  .exitOverride(usageExit) // a bad flag exits with status 2
  .parse(scriptArguments())
  .opts<Flags>();
const quick = flags.quick === true;
const here = resolve(import.meta.dirname, '..', '..');
const out = resolve(flags.out ?? join(here, quick ? 'out/store-accuracy-quick' : 'results/store'));
const choice = await useBestBackend(flags.backend);
const uptime = () => execFileSync('uptime', { encoding: 'utf8' }).trim();
const uptimeStart = uptime();
console.log(`Backend: ${choice.description}; ${uptimeStart}`);

const o: QualityOptions = regimeTwoOptions({
  flags,
  methods: ['kd'],
  hyper: { ...DEFAULT_HYPER, temperature: flags.temperature },
  backend: choice.description,
});

/** Hex SHA-256 of the model's weights (shapes and bytes, in order). */
async function weightsSha256(model: tfl.LayersModel): Promise<string> {
  const hash = createHash('sha256');
  for (const w of model.getWeights()) {
    const data = (await w.data()) as Float32Array;
    hash.update(JSON.stringify(w.shape));
    hash.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return hash.digest('hex');
}

/** Largest |a - b|, and largest |a - b| / |a| over |a| >= 2^-14 (float16's smallest normal). */
function difference(a: Float32Array, b: Float32Array): { maxAbs: number; maxRel: number } {
  if (a.length !== b.length) throw new Error(`logits of ${a.length} and ${b.length} values`);
  let maxAbs = 0;
  let maxRel = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= maxAbs)) maxAbs = d; // NaN propagates
    if (Math.abs(a[i]!) >= 2 ** -14 && !(d / Math.abs(a[i]!) <= maxRel)) maxRel = d / Math.abs(a[i]!);
  }
  return { maxAbs, maxRel };
}

type Side = 'live' | 'float32' | 'float16';
interface SideRun {
  readonly lastTest: number;
  readonly bestTest: number;
  readonly selectedTest: number;
  readonly curve: RunRecord['curve'];
  readonly steps: number;
  readonly trainSeconds: number;
  readonly description: string;
  readonly weightsSha256: string;
  readonly load: number;
}
interface SeedResult {
  readonly seed: number;
  readonly teacher: TeacherRecord;
  readonly transferExamples: number;
  readonly stores: Record<'float32' | 'float16', { bytesPerExample: number; seconds: number }>;
  /** float16 store against float32 store; float32 store against the live teacher's predict (batches of 500). */
  readonly logits: { float16VsFloat32: { maxAbs: number; maxRel: number }; float32VsLive: { maxAbs: number; maxRel: number } };
  readonly runs: Partial<Record<Side, SideRun>>;
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
const work = await mkdtemp(join(tmpdir(), 'kd-store-accuracy-'));
const seeds: SeedResult[] = [];
const dispose = (...data: LabeledData[]) => {
  for (const d of data) tf.dispose([d.x, d.y]);
};
try {
  for (const seed of o.seeds) {
    const data = seedData(train, seed, o);
    const { model: teacher, record } = await teacherFor(seed, data.pool, data.validation, test, o);
    console.log(`seed ${seed}: teacher test ${(record.test * 100).toFixed(2)} % (${record.loaded ? 'cached' : 'trained'})`);
    const n = data.small.x.shape[0]!;
    const stores = {} as SeedResult['stores'];
    const storeLogits = {} as Record<'float32' | 'float16', Float32Array>;
    const teachers = {} as Record<Side, Parameters<typeof runMethod>[0]['teacher']>;
    teachers.live = teacher;
    for (const dtype of ['float32', 'float16'] as const) {
      const dir = join(work, `seed${seed}-${dtype}`);
      const t0 = performance.now();
      const manifest = await precomputeTeacher(teacher, data.small, dir, { dtype });
      const bytes = manifest.shards.reduce((sum, s) => sum + statSync(join(dir, s.file)).size, 0);
      stores[dtype] = { bytesPerExample: bytes / n, seconds: (performance.now() - t0) / 1000 };
      const stored = await storedTeacher(dir, { teacher, source: data.small });
      const ids = Array.from({ length: n }, (_, i) => i);
      const { logits } = stored.predict(data.small.x, { ids });
      storeLogits[dtype] = (await logits.data()) as Float32Array;
      logits.dispose();
      teachers[dtype] = stored;
    }
    const live = await logitsOf(teacher, data.small);
    const logits = {
      float16VsFloat32: difference(storeLogits.float32, storeLogits.float16),
      float32VsLive: difference(live.logits, storeLogits.float32),
    };
    console.log(
      `seed ${seed}: max |logit difference| float16 - float32 store ${logits.float16VsFloat32.maxAbs.toExponential(3)} (relative ${logits.float16VsFloat32.maxRel.toExponential(3)}); float32 store - live ${logits.float32VsLive.maxAbs}`,
    );
    const fullSteps = Math.ceil(o.trainSize / o.batchSize);
    const epochsPerRound = Math.max(1, Math.round(fullSteps / Math.ceil(o.smallSize / o.batchSize)));
    const sides: Side[] = seed === o.seeds[0] ? ['live', 'float32', 'float16'] : ['float32', 'float16'];
    const runs: SeedResult['runs'] = {};
    for (const side of sides) {
      const load = loadavg()[0]!;
      let sha = '';
      const rec = await runMethod(
        {
          seed,
          pair: 'cnn',
          regime: 'small',
          method: 'kd',
          data: data.small,
          teacher: teachers[side],
          validation: data.validation,
          test,
          rounds: o.epochs,
          epochsPerRound,
          inspect: async (model) => {
            sha = await weightsSha256(model);
          },
        },
        o,
      );
      runs[side] = {
        lastTest: rec.lastTest,
        bestTest: rec.bestTest,
        selectedTest: rec.selectedTest,
        curve: rec.curve,
        steps: rec.steps,
        trainSeconds: rec.trainSeconds,
        description: rec.description,
        weightsSha256: sha,
        load,
      };
      console.log(
        `seed ${seed} ${side.padEnd(7)} test last ${(rec.lastTest * 100).toFixed(2)} % (curve ${rec.curve.map((p) => (p.test * 100).toFixed(2)).join(', ')}), ${rec.steps} steps in ${rec.trainSeconds.toFixed(1)} s, weights ${sha.slice(0, 12)} (load ${load.toFixed(2)})`,
      );
    }
    seeds.push({ seed, teacher: record, transferExamples: n, stores, logits, runs });
    teacher.dispose();
    dispose(data.validation, data.small, data.pool, data.omitted);
  }
} finally {
  dispose(train, test);
  await rm(work, { recursive: true, force: true });
}

const accuracies = (side: Side) => seeds.map((s) => s.runs[side]?.lastTest).filter((a): a is number => a !== undefined);
const diffs = seeds.map((s) => s.runs.float16!.lastTest - s.runs.float32!.lastTest);
const summary = {
  float32: { ...meanStd(accuracies('float32')), values: accuracies('float32') },
  float16: { ...meanStd(accuracies('float16')), values: accuracies('float16') },
  float16MinusFloat32: { ...meanStd(diffs), values: diffs },
  maxAbsLogitDifference: Math.max(...seeds.map((s) => s.logits.float16VsFloat32.maxAbs)),
  maxRelLogitDifference: Math.max(...seeds.map((s) => s.logits.float16VsFloat32.maxRel)),
};
const first = seeds[0]!;
const liveMatch = {
  seed: first.seed,
  testEqual: first.runs.live!.lastTest === first.runs.float32!.lastTest,
  curveEqual: JSON.stringify(first.runs.live!.curve) === JSON.stringify(first.runs.float32!.curve),
  weightsEqual: first.runs.live!.weightsSha256 === first.runs.float32!.weightsSha256,
  logitsMaxAbs: first.logits.float32VsLive.maxAbs,
};
const uptimeEnd = uptime();
const seconds = (performance.now() - started) / 1000;

const pct = (a: number) => (a * 100).toFixed(2);
const pm = (v: { mean: number; std: number }) => `${pct(v.mean)} ± ${pct(v.std)}`;
const points = (d: number) => `${d >= 0 ? '+' : '−'}${Math.abs(d * 100).toFixed(2)}`;
const run0 = first.runs.float32!;
const md = `# Distilled accuracy: float16 vs float32 stored teacher outputs (regime ii, ${o.seeds.length} seed${o.seeds.length > 1 ? 's' : ''})

CNN teacher ${o.sizes.teacher.join('-')} (${o.teacherEpochs} epochs on ${o.trainSize} examples, ${o.validationSize} held out) -> CNN student ${o.sizes.cnnStudent.join('-')}, ${run0.description}, Adam ${o.learningRate}, batch ${o.batchSize}, transfer set of ${first.transferExamples} examples, ${run0.steps} steps (${o.epochs} rounds of ${Math.max(1, Math.round(Math.ceil(o.trainSize / o.batchSize) / Math.ceil(o.smallSize / o.batchSize)))} epochs), test accuracy on ${o.testSize} test images after the last round; backend ${choice.description}. Per seed the same split, teacher, student initialisation and data order; only the teacher's outputs differ.

| seed | teacher test (%) | live teacher (%) | float32 store (%) | float16 store (%) | float16 − float32 (points) | max abs. logit diff. | max rel. logit diff. |
|---:|---:|---:|---:|---:|---:|---:|---:|
${seeds
  .map(
    (s) =>
      `| ${s.seed} | ${pct(s.teacher.test)} | ${s.runs.live ? pct(s.runs.live.lastTest) : '—'} | ${pct(s.runs.float32!.lastTest)} | ${pct(s.runs.float16!.lastTest)} | ${points(s.runs.float16!.lastTest - s.runs.float32!.lastTest)} | ${s.logits.float16VsFloat32.maxAbs.toExponential(2)} | ${s.logits.float16VsFloat32.maxRel.toExponential(2)} |`,
  )
  .join('\n')}
| mean ± sd | | | ${pm(summary.float32)} | ${pm(summary.float16)} | ${points(summary.float16MinusFloat32.mean)} ± ${(summary.float16MinusFloat32.std * 100).toFixed(2)} | ${summary.maxAbsLogitDifference.toExponential(2)} | ${summary.maxRelLogitDifference.toExponential(2)} |

Logit differences: float16 store against float32 store over the transfer set (relative: over |logit| >= 2^-14).
Seed ${liveMatch.seed}, float32 store against the live teacher: final test accuracy ${liveMatch.testEqual ? 'equal' : 'DIFFERENT'} (${pct(first.runs.live!.lastTest)} / ${pct(run0.lastTest)} %), every round's accuracies ${liveMatch.curveEqual ? 'equal' : 'DIFFERENT'}, student weights' SHA-256 ${liveMatch.weightsEqual ? 'equal' : 'DIFFERENT'} (${run0.weightsSha256.slice(0, 16)}...), stored logits vs the teacher's predict: max abs. difference ${liveMatch.logitsMaxAbs}.
Bytes per example: float32 ${first.stores.float32.bytesPerExample.toFixed(1)}, float16 ${first.stores.float16.bytesPerExample.toFixed(1)}. Training s per run: ${seeds.flatMap((s) => Object.entries(s.runs).map(([k, r]) => `${s.seed}/${k} ${r.trainSeconds.toFixed(0)}`)).join(', ')}. Teachers: ${seeds.map((s) => `seed ${s.seed} ${s.teacher.loaded ? 'cached' : 'trained'} (${s.teacher.seconds.toFixed(0)} s)`).join(', ')}.
Wall ${seconds.toFixed(0)} s. Load: start \`${uptimeStart}\`, end \`${uptimeEnd}\`; 1-minute load before each run ${seeds.flatMap((s) => Object.values(s.runs).map((r) => r.load.toFixed(2))).join(', ')}.
`;
await mkdir(out, { recursive: true });
const { log: _log, ...options } = o;
await writeFile(
  join(out, 'accuracy.json'),
  `${JSON.stringify({ options, seeds, summary, liveMatch, seconds, uptime: { start: uptimeStart, end: uptimeEnd } }, null, 2)}\n`,
);
await writeFile(join(out, 'accuracy.md'), md);
console.log(`\n${md}\nWrote ${join(out, 'accuracy.json')} and accuracy.md`);
