import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type BackendName, useBestBackend } from '@kd/backend-gpu';
import '@tensorflow/tfjs-layers';
import { FULL_SIZES, QUICK_SIZES } from '../quality/models';
import { meanStd } from '../quality/report';
import { hyperFromFlags, type Method, type QualityOptions, type QualityResult, runQuality } from '../quality/run';

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

async function main(): Promise<void> {
  const { values } = parseArgs({
    // `pnpm <script> -- --flag` passes the '--' through.
    args: process.argv.slice(2).filter((a, i) => !(i === 0 && a === '--')),
    options: {
      quick: { type: 'boolean', default: false },
      backend: { type: 'string', default: 'wasm' },
      seeds: { type: 'string', default: '1' },
      'train-size': { type: 'string' },
      'validation-size': { type: 'string' },
      'small-size': { type: 'string' },
      'test-size': { type: 'string' },
      epochs: { type: 'string' },
      'teacher-epochs': { type: 'string' },
      negatives: { type: 'string' },
      temperature: { type: 'string' },
      'crd-weight': { type: 'string' },
      methods: { type: 'string', default: 'scratch,kd,crd,kd+crd' },
      pairs: { type: 'string', default: 'cnn,mlp' },
      regimes: { type: 'string', default: 'full,small' },
      threads: { type: 'string', default: '1' },
      'ours-results': { type: 'string' },
      'peer-results': { type: 'string' },
      out: { type: 'string' },
    },
  });
  const quick = values.quick!;
  const n = (name: string, fallback: number) => {
    const text = (values as Record<string, unknown>)[name];
    return text === undefined ? fallback : Number(text);
  };
  const sizes = quick ? QUICK_SIZES : FULL_SIZES;
  const options: Omit<QualityOptions, 'backend' | 'log'> = {
    seeds: values.seeds!.split(',').map(Number),
    trainSize: n('train-size', quick ? 1200 : 54000),
    validationSize: n('validation-size', quick ? 300 : 6000),
    smallSize: n('small-size', quick ? 200 : 1800),
    omittedClass: 3,
    testSize: n('test-size', quick ? 500 : 10000),
    epochs: n('epochs', quick ? 2 : 10),
    teacherEpochs: n('teacher-epochs', quick ? 2 : 10),
    batchSize: 64,
    learningRate: 0.001,
    sizes,
    pairs: values.pairs!.split(',') as QualityOptions['pairs'],
    regimes: values.regimes!.split(',') as QualityOptions['regimes'],
    methods: values.methods!.split(',') as Method[],
    hyper: hyperFromFlags(n, quick),
    out: values.out ?? (quick ? 'out/compare-quick' : 'out/compare'),
  };
  mkdirSync(options.out, { recursive: true });
  let ours: QualityResult;
  const started = Date.now();
  if (values['ours-results']) {
    ours = JSON.parse(readFileSync(values['ours-results'], 'utf8')) as QualityResult;
    console.log(`ours: reusing ${values['ours-results']}`);
  } else {
    const choice = await useBestBackend(values.backend as BackendName);
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
    `--threads=${values.threads}`,
  ];
  const peerStarted = Date.now();
  let peer: PeerResult;
  if (values['peer-results']) {
    peer = readPeerLogs(values['peer-results'].split(','));
    console.log(`peer: reusing ${values['peer-results']}`);
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
