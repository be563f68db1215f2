import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BackendName, useBestBackend } from '@kd/backend-gpu';
import { backendOption, choiceListFlag, integerFlag, integerListFlag, numberFlag, scriptArguments, usageExit } from '@kd/cli/flags';
import '@tensorflow/tfjs-layers';
import { Command, Option } from 'commander';
import { FULL_SIZES, QUICK_SIZES } from '../quality/models';
import { meanStd } from '../quality/report';
import {
  DEFAULT_HYPER,
  hyperFromFlags,
  METHODS,
  type Method,
  PAIRS,
  type Pair,
  type QualityOptions,
  type QualityResult,
  REGIMES,
  type Regime,
  runQuality,
} from '../quality/run';

/**
 * Runs our quality benchmark and the PyTorch peer (`peer.py`) with the same sizes, methods and
 * schedule, and prints both side by side: accuracy, gap closed and samples/s.
 */

interface PeerRun {
  seed: number;
  pair: string;
  regime: string;
  method: string;
  lastTest: number;
  bestTest: number;
  samplesPerSecond: number;
}
interface PeerResult {
  teachers: { seed: number; test: number }[];
  runs: PeerRun[];
  threads: number;
  torch: string;
}

/**
 * Peer results from saved `peer.py` logs (comma-separated paths, e.g. one per seed): the final JSON
 * line of each, or, for a log whose run was stopped before it, its per-seed lines (teacher and
 * run accuracies to 0.01 %, samples/s).
 */
export function readPeerLogs(paths: readonly string[]): PeerResult {
  const parts = paths.map((path): PeerResult => {
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    const json = lines.filter((l) => l.startsWith('{')).at(-1);
    if (json) return JSON.parse(json) as PeerResult;
    const result: PeerResult = { teachers: [], runs: [], threads: Number.NaN, torch: 'unknown (partial log)' };
    for (const line of lines) {
      const t = /^seed (\d+): teacher test ([\d.]+) %/.exec(line);
      if (t) result.teachers.push({ seed: Number(t[1]), test: Number(t[2]) / 100 });
      const r = /^seed (\d+) (\w+) (\w+) ([\w+]+): last ([\d.]+) % best ([\d.]+) % (\d+) samples\/s/.exec(line);
      if (r) {
        result.runs.push({
          seed: Number(r[1]),
          pair: r[2]!,
          regime: r[3]!,
          method: r[4]!,
          lastTest: Number(r[5]) / 100,
          bestTest: Number(r[6]) / 100,
          samplesPerSecond: Number(r[7]),
        });
      }
    }
    if (result.teachers.length === 0) throw new Error(`${path}: neither a peer.py result line nor per-seed lines`);
    return result;
  });
  const known = parts.find((p) => !p.torch.startsWith('unknown')) ?? parts[0]!;
  return { teachers: parts.flatMap((p) => p.teachers), runs: parts.flatMap((p) => p.runs), threads: known.threads, torch: known.torch };
}

export interface CompareRow {
  pair: string;
  regime: string;
  method: string;
  ours: { last: number; gap: number; samplesPerSecond: number };
  peer: { last: number; gap: number; samplesPerSecond: number };
}

type Run = { seed: number; pair: string; regime: string; method: string; lastTest: number; samplesPerSecond: number };

function gapOf(runs: readonly Run[], teachers: readonly { seed: number; test: number }[], r: Run): number {
  const scratch = runs.find((s) => s.seed === r.seed && s.pair === r.pair && s.regime === r.regime && s.method === 'scratch');
  const teacher = teachers.find((t) => t.seed === r.seed)?.test;
  if (!scratch || teacher === undefined) return Number.NaN;
  return (r.lastTest - scratch.lastTest) / (teacher - scratch.lastTest);
}

export function compareRows(ours: QualityResult, peer: PeerResult): CompareRow[] {
  const rows: CompareRow[] = [];
  const keys = [...new Set(ours.runs.map((r) => `${r.pair}|${r.regime}|${r.method}`))];
  for (const key of keys) {
    const [pair, regime, method] = key.split('|') as [string, string, string];
    const pick = (runs: readonly Run[], teachers: readonly { seed: number; test: number }[]) => {
      const mine = runs.filter((r) => r.pair === pair && r.regime === regime && r.method === method);
      return {
        last: meanStd(mine.map((r) => r.lastTest)).mean,
        gap: method === 'scratch' ? Number.NaN : meanStd(mine.map((r) => gapOf(runs, teachers, r))).mean,
        samplesPerSecond: meanStd(mine.map((r) => r.samplesPerSecond)).mean,
        n: mine.length,
      };
    };
    const p = pick(peer.runs, peer.teachers);
    if (p.n === 0) continue;
    rows.push({ pair, regime, method, ours: pick(ours.runs, ours.teachers), peer: p });
  }
  return rows;
}

export function compareTable(ours: QualityResult, peer: PeerResult): string {
  const f = (v: number) => (Number.isNaN(v) ? '—' : `${(v * 100).toFixed(2)}`);
  const lines = [
    `Teacher test accuracy: ours ${f(meanStd(ours.teachers.map((t) => t.test)).mean)} %, peer ${f(meanStd(peer.teachers.map((t) => t.test)).mean)} % (mean over seeds).`,
    '',
    '| pair | regime | method | ours acc. (%) | peer acc. (%) | ours gap closed (%) | peer gap closed (%) | ours samples/s | peer samples/s | peer / ours |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of compareRows(ours, peer)) {
    lines.push(
      `| ${r.pair} | ${r.regime} | ${r.method} | ${f(r.ours.last)} | ${f(r.peer.last)} | ${f(r.ours.gap)} | ${f(r.peer.gap)} | ${r.ours.samplesPerSecond.toFixed(0)} | ${r.peer.samplesPerSecond.toFixed(0)} | ${(r.peer.samplesPerSecond / r.ours.samplesPerSecond).toFixed(2)}x |`,
    );
  }
  return lines.join('\n');
}

/** The parsed flags of {@link main} (commander's camel-case keys); absent: the mode's default. */
interface Flags {
  readonly quick?: boolean;
  readonly backend: BackendName | 'auto';
  readonly seeds: number[];
  readonly trainSize?: number;
  readonly validationSize?: number;
  readonly smallSize?: number;
  readonly testSize?: number;
  readonly epochs?: number;
  readonly teacherEpochs?: number;
  readonly negatives?: number;
  readonly temperature?: number;
  readonly crdWeight?: number;
  readonly methods: Method[];
  readonly pairs: Pair[];
  readonly regimes: Regime[];
  readonly threads: number;
  readonly oursResults?: string;
  readonly peerResults?: string;
  readonly out?: string;
}

async function main(): Promise<void> {
  const sized = (description: string, full: number, quick: number) => `${description} (default: ${full}; ${quick} with --quick)`;
  const list = <T extends string>(flag: string, description: string, allowed: readonly T[], defaults: readonly T[]) =>
    new Option(`${flag} <list>`, description).argParser(choiceListFlag(flag, allowed)).default([...defaults], defaults.join(','));
  const flags = new Command('pnpm --filter kd-bench peer')
    .usage('[-- options]')
    .description(
      'Runs the quality benchmark and the PyTorch peer (src/peer/peer.py) with the same sizes, methods and schedule, and prints both side by side.',
    )
    .option('--quick', 'tiny models and sizes')
    .addOption(backendOption('wasm'))
    .addOption(new Option('--seeds <list>', 'seeds, one run each').argParser(integerListFlag('--seeds', { min: 0 })).default([1], '1'))
    .option('--train-size <n>', sized('examples of the training pool', 54000, 1200), integerFlag('--train-size', { min: 1 }))
    .option('--validation-size <n>', sized('held-out examples', 6000, 300), integerFlag('--validation-size', { min: 1 }))
    .option('--small-size <n>', sized("examples of regime (ii)'s transfer set", 1800, 200), integerFlag('--small-size', { min: 1 }))
    .option('--test-size <n>', sized('test examples evaluated', 10000, 500), integerFlag('--test-size', { min: 1 }))
    .option('--epochs <n>', sized('student epochs', 10, 2), integerFlag('--epochs', { min: 1 }))
    .option('--teacher-epochs <n>', sized('teacher epochs', 10, 2), integerFlag('--teacher-epochs', { min: 1 }))
    .option('--negatives <k>', sized('CRD negatives per anchor', DEFAULT_HYPER.negatives, 64), integerFlag('--negatives', { min: 1 }))
    .option('--temperature <t>', `KD temperature (default: ${DEFAULT_HYPER.temperature})`, numberFlag('--temperature', { above: 0 }))
    .option('--crd-weight <w>', `weight of the CRD term (default: ${DEFAULT_HYPER.crdWeight})`, numberFlag('--crd-weight', { min: 0 }))
    .addOption(
      list('--methods', 'methods (the peer runs scratch, kd, crd and kd+crd of them)', METHODS, ['scratch', 'kd', 'crd', 'kd+crd']),
    )
    .addOption(list('--pairs', 'teacher-student pairs', PAIRS, PAIRS))
    .addOption(list('--regimes', 'regimes', REGIMES, ['full', 'small']))
    .option('--threads <n>', "the peer's PyTorch threads", integerFlag('--threads', { min: 1 }), 1)
    .option('--ours-results <file>', 'reuse this results.json of the quality bench instead of running ours')
    .option('--peer-results <logs>', 'reuse these peer.py logs (comma-separated) instead of running the peer')
    .option('--out <dir>', 'output folder (default: out/compare; out/compare-quick with --quick)')
    .exitOverride(usageExit) // a bad flag exits with status 2
    .parse(scriptArguments())
    .opts<Flags>();
  const quick = flags.quick === true;
  /** The hyper-parameter flags by name, for `hyperFromFlags` (absent: its default). */
  const hyperFlags: Readonly<Record<string, number | undefined>> = {
    temperature: flags.temperature,
    'crd-weight': flags.crdWeight,
    negatives: flags.negatives,
  };
  const sizes = quick ? QUICK_SIZES : FULL_SIZES;
  const options: Omit<QualityOptions, 'backend' | 'log'> = {
    seeds: flags.seeds,
    trainSize: flags.trainSize ?? (quick ? 1200 : 54000),
    validationSize: flags.validationSize ?? (quick ? 300 : 6000),
    smallSize: flags.smallSize ?? (quick ? 200 : 1800),
    omittedClass: 3,
    testSize: flags.testSize ?? (quick ? 500 : 10000),
    epochs: flags.epochs ?? (quick ? 2 : 10),
    teacherEpochs: flags.teacherEpochs ?? (quick ? 2 : 10),
    batchSize: 64,
    learningRate: 0.001,
    sizes,
    pairs: flags.pairs,
    regimes: flags.regimes,
    methods: flags.methods,
    hyper: hyperFromFlags((name, fallback) => hyperFlags[name] ?? fallback, quick),
    out: flags.out ?? (quick ? 'out/compare-quick' : 'out/compare'),
  };
  mkdirSync(options.out, { recursive: true });
  let ours: QualityResult;
  const started = Date.now();
  if (flags.oursResults) {
    ours = JSON.parse(readFileSync(flags.oursResults, 'utf8')) as QualityResult;
    console.log(`ours: reusing ${flags.oursResults}`);
  } else {
    const choice = await useBestBackend(flags.backend);
    console.log(`ours: ${choice.description}`);
    ours = await runQuality({ ...options, backend: choice.description, log: (l) => console.log(`ours: ${l}`) });
  }
  const oursSeconds = (Date.now() - started) / 1000;
  const script = join(dirname(fileURLToPath(import.meta.url)), 'peer.py');
  const peerArgs = [
    script,
    `--seeds=${options.seeds.join(',')}`,
    `--train-size=${options.trainSize}`,
    `--validation-size=${options.validationSize}`,
    `--small-size=${options.smallSize}`,
    `--test-size=${options.testSize}`,
    `--epochs=${options.epochs}`,
    `--teacher-epochs=${options.teacherEpochs}`,
    `--teacher=${sizes.teacher.join(',')}`,
    `--cnn-student=${sizes.cnnStudent.join(',')}`,
    `--mlp-student=${sizes.mlpStudent.join(',')}`,
    `--negatives=${options.hyper.negatives}`,
    `--feature-dim=${options.hyper.featureDim}`,
    `--temperature=${options.hyper.temperature}`,
    `--kd-weight=${options.hyper.kdWeight}`,
    `--crd-weight=${options.hyper.crdWeight}`,
    `--pairs=${options.pairs.join(',')}`,
    `--regimes=${options.regimes.join(',')}`,
    `--methods=${options.methods.filter((m) => ['scratch', 'kd', 'crd', 'kd+crd'].includes(m)).join(',')}`,
    `--threads=${flags.threads}`,
  ];
  const peerStarted = Date.now();
  let peer: PeerResult;
  if (flags.peerResults) {
    peer = readPeerLogs(flags.peerResults.split(','));
    console.log(`peer: reusing ${flags.peerResults}`);
  } else {
    console.log(`peer: /usr/bin/python3 ${peerArgs.join(' ')}`);
    const child = spawnSync('/usr/bin/python3', peerArgs, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (child.status !== 0) throw new Error(`peer.py failed (${child.status}): ${child.stderr}`);
    const lines = child.stdout.trim().split('\n');
    for (const line of lines.slice(0, -1)) console.log(`peer: ${line}`);
    peer = JSON.parse(lines.at(-1)!) as PeerResult;
  }
  const peerSeconds = (Date.now() - peerStarted) / 1000;
  const table = compareTable(ours, peer);
  const footer = `ours: ${oursSeconds.toFixed(0)} s wall; peer: PyTorch ${peer.torch}, ${Number.isNaN(peer.threads) ? 'unknown' : peer.threads} thread(s), ${peerSeconds.toFixed(0)} s wall.`;
  writeFileSync(join(options.out, 'peer.json'), JSON.stringify(peer, null, 2));
  writeFileSync(join(options.out, 'compare.md'), `${table}\n\n${footer}\n`);
  console.log(`\n${table}\n\n${footer}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
