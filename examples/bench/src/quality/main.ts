import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BACKEND_ORDER, type BackendName, useBestBackend } from '@kd/backend-gpu';
import '@tensorflow/tfjs-layers';
import { FULL_SIZES, QUICK_SIZES } from './models';
import { curvesSvg, gapSvg, markdown } from './report';
import { hyperFromFlags, METHODS, type Method, PAIRS, type Pair, type QualityOptions, REGIMES, type Regime, runQuality, tune } from './run';

const { values } = parseArgs({
  // `pnpm <script> -- --flag` passes the '--' through.
  args: process.argv.slice(2).filter((a, i) => !(i === 0 && a === '--')),
  options: {
    quick: { type: 'boolean', default: false },
    tune: { type: 'boolean', default: false },
    backend: { type: 'string', default: 'wasm' },
    seeds: { type: 'string' },
    'train-size': { type: 'string' },
    'validation-size': { type: 'string' },
    'small-size': { type: 'string' },
    'omitted-class': { type: 'string', default: '3' },
    'test-size': { type: 'string' },
    epochs: { type: 'string' },
    'teacher-epochs': { type: 'string' },
    'batch-size': { type: 'string', default: '64' },
    lr: { type: 'string', default: '0.001' },
    temperature: { type: 'string' },
    'crd-weight': { type: 'string' },
    negatives: { type: 'string' },
    pairs: { type: 'string' },
    regimes: { type: 'string' },
    methods: { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log(`Usage: pnpm --filter kd-bench quality [-- --quick] [--backend wasm|cpu|auto] [--seeds 1,2,3]
  [--train-size N] [--validation-size N] [--small-size N] [--omitted-class C] [--test-size N] [--epochs E] [--teacher-epochs E]
  [--batch-size B] [--lr R] [--temperature T] [--crd-weight W] [--negatives K]
  [--pairs cnn,mlp] [--regimes full,small,omitted] [--methods ${METHODS.join(',')}] [--out DIR] [--tune]
Full mode defaults: 3 seeds, 54000-example pool (6000 held out for validation), 1800-example transfer set,
10 student epochs, 10 teacher epochs, all 10000 test examples. Regime 'omitted': the pool without class
--omitted-class (default 3), scratch and KD only, with the class's logit bias raised by an amount picked on the
validation split (Hinton et al. 2015, sect. 3). --quick: tiny models and sizes (~1 minute).
--tune: pick the temperature and the CRD weight on the validation split, print them, and stop.`);
  process.exit(0);
}

const quick = values.quick!;
const num = (name: string, fallback: number) => {
  const text = (values as Record<string, string | boolean | undefined>)[name];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value)) {
    console.error(`--${name} must be a number, got "${text}"`);
    process.exit(2);
  }
  return value;
};
function list<T extends string>(text: string | undefined, allowed: readonly T[], fallback: readonly T[]): T[] {
  if (!text) return [...fallback];
  const items = text.split(',') as T[];
  for (const item of items) {
    if (!allowed.includes(item)) {
      console.error(`"${item}" is not one of ${allowed.join(', ')}`);
      process.exit(2);
    }
  }
  return items;
}

const backend = values.backend!;
if (backend !== 'auto' && !BACKEND_ORDER.includes(backend as BackendName)) {
  console.error(`--backend must be one of ${BACKEND_ORDER.join(', ')} or auto, got "${backend}"`);
  process.exit(2);
}
const choice = await useBestBackend(backend as BackendName | 'auto');
console.log(`Backend: ${choice.description}`);

const options: QualityOptions = {
  seeds: values.seeds ? values.seeds.split(',').map(Number) : quick ? [1, 2, 3] : [1, 2, 3],
  trainSize: num('train-size', quick ? 1200 : 54000),
  validationSize: num('validation-size', quick ? 300 : 6000),
  smallSize: num('small-size', quick ? 200 : 1800),
  omittedClass: num('omitted-class', 3),
  testSize: num('test-size', quick ? 500 : 10000),
  epochs: num('epochs', quick ? 2 : 10),
  teacherEpochs: num('teacher-epochs', quick ? 2 : 10),
  batchSize: num('batch-size', 64),
  learningRate: num('lr', 0.001),
  sizes: quick ? QUICK_SIZES : FULL_SIZES,
  pairs: list<Pair>(values.pairs, PAIRS, PAIRS),
  regimes: list<Regime>(values.regimes, REGIMES, REGIMES),
  methods: list<Method>(values.methods, METHODS, METHODS),
  hyper: hyperFromFlags(num, quick),
  out: values.out ?? (quick ? 'out/quick' : 'out/full'),
  backend: choice.description,
  log: (line) => console.log(line),
};

if (values.tune) {
  const { hyper, trials } = await tune(options, { temperature: [2, 4, 8], crdWeight: [0.4, 0.8, 1.6] });
  writeFileSync(join(options.out, 'tune.json'), JSON.stringify({ hyper, trials }, null, 2));
  console.log(`Picked on the validation split: temperature ${hyper.temperature}, crd weight ${hyper.crdWeight}`);
  process.exit(0);
}

const result = await runQuality(options);
const table = markdown(result);
writeFileSync(join(options.out, 'results.md'), `${table}\n`);
for (const pair of options.pairs) {
  for (const regime of options.regimes) writeFileSync(join(options.out, `curves-${pair}-${regime}.svg`), curvesSvg(result, pair, regime));
}
writeFileSync(join(options.out, 'gap-closed.svg'), gapSvg(result));
console.log(`\n${table}\n\nWrote ${options.out}/results.json, results.md, curves-*.svg, gap-closed.svg in ${result.seconds.toFixed(0)} s`);
