import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type BackendName, useBestBackend } from '@kd/backend-gpu';
import { backendOption, choiceListFlag, integerFlag, integerListFlag, numberFlag, scriptArguments, usageExit } from '@kd/cli/flags';
import '@tensorflow/tfjs-layers';
import { Command, Option } from 'commander';
import { FULL_SIZES, QUICK_SIZES } from './models';
import { curvesSvg, gapSvg, markdown } from './report';
import {
  DEFAULT_HYPER,
  hyperFromFlags,
  METHODS,
  type Method,
  PAIRS,
  type Pair,
  type QualityOptions,
  REGIMES,
  type Regime,
  runQuality,
  tune,
} from './run';

/** The parsed flags (commander's camel-case keys); absent: the mode's default. */
interface Flags {
  readonly quick?: boolean;
  readonly tune?: boolean;
  readonly backend: BackendName | 'auto';
  readonly seeds?: number[];
  readonly trainSize?: number;
  readonly validationSize?: number;
  readonly smallSize?: number;
  readonly omittedClass: number;
  readonly testSize?: number;
  readonly epochs?: number;
  readonly teacherEpochs?: number;
  readonly batchSize: number;
  readonly lr: number;
  readonly temperature?: number;
  readonly crdWeight?: number;
  readonly negatives?: number;
  readonly pairs: Pair[];
  readonly regimes: Regime[];
  readonly methods: Method[];
  readonly out?: string;
}

const sized = (description: string, full: number, quick: number) => `${description} (default: ${full}; ${quick} with --quick)`;
const flags = new Command('pnpm --filter kd-bench quality')
  .usage('[-- options]')
  .description('The quality benchmark: scratch and distilled students of a CNN teacher on Fashion-MNIST, per pair, regime and method.')
  .option('--quick', 'tiny models and sizes (~1 minute)')
  .option('--tune', 'pick the temperature and the CRD weight on the validation split, print them, and stop')
  .addOption(backendOption('wasm'))
  .option('--seeds <list>', 'seeds, one run each (default: 1,2,3)', integerListFlag('--seeds', { min: 0 }))
  .option('--train-size <n>', sized('examples of the training pool', 54000, 1200), integerFlag('--train-size', { min: 1 }))
  .option('--validation-size <n>', sized('held-out examples (model selection)', 6000, 300), integerFlag('--validation-size', { min: 1 }))
  .option('--small-size <n>', sized("examples of regime (ii)'s transfer set", 1800, 200), integerFlag('--small-size', { min: 1 }))
  .option('--omitted-class <c>', "class left out of regime (iii)'s transfer set", integerFlag('--omitted-class', { min: 0, max: 9 }), 3)
  .option('--test-size <n>', sized('test examples evaluated', 10000, 500), integerFlag('--test-size', { min: 1 }))
  .option('--epochs <n>', sized('student epochs', 10, 2), integerFlag('--epochs', { min: 1 }))
  .option('--teacher-epochs <n>', sized('teacher epochs', 10, 2), integerFlag('--teacher-epochs', { min: 1 }))
  .option('--batch-size <n>', 'examples per step', integerFlag('--batch-size', { min: 1 }), 64)
  .option('--lr <lr>', 'Adam learning rate', numberFlag('--lr', { above: 0 }), 0.001)
  .option('--temperature <t>', `KD temperature (default: ${DEFAULT_HYPER.temperature})`, numberFlag('--temperature', { above: 0 }))
  .option('--crd-weight <w>', `weight of the CRD term (default: ${DEFAULT_HYPER.crdWeight})`, numberFlag('--crd-weight', { min: 0 }))
  .option('--negatives <k>', sized('CRD negatives per anchor', DEFAULT_HYPER.negatives, 64), integerFlag('--negatives', { min: 1 }))
  .addOption(
    new Option('--pairs <list>', 'teacher-student pairs').argParser(choiceListFlag('--pairs', PAIRS)).default([...PAIRS], PAIRS.join(',')),
  )
  .addOption(
    new Option('--regimes <list>', 'regimes').argParser(choiceListFlag('--regimes', REGIMES)).default([...REGIMES], REGIMES.join(',')),
  )
  .addOption(
    new Option('--methods <list>', `methods, any of ${METHODS.join(', ')}`)
      .argParser(choiceListFlag('--methods', METHODS))
      .default([...METHODS], 'all'),
  )
  .option('--out <dir>', 'output folder (default: out/full; out/quick with --quick)')
  .addHelpText(
    'after',
    `
Full mode defaults: 3 seeds, 54000-example pool (6000 held out for validation), 1800-example transfer set,
10 student epochs, 10 teacher epochs, all 10000 test examples. Regime 'omitted': the pool without class
--omitted-class (default 3), scratch and KD only, with the class's logit bias raised by an amount picked on the
validation split (Hinton et al. 2015, sect. 3). --quick: tiny models and sizes (~1 minute).
--tune: pick the temperature and the CRD weight on the validation split, print them, and stop.`,
  )
  .exitOverride(usageExit) // a bad flag exits with status 2
  .parse(scriptArguments())
  .opts<Flags>();

const quick = flags.quick === true;
const choice = await useBestBackend(flags.backend);
console.log(`Backend: ${choice.description}`);

/** The hyper-parameter flags by name, for `hyperFromFlags` (absent: its default). */
const hyperFlags: Readonly<Record<string, number | undefined>> = {
  temperature: flags.temperature,
  'crd-weight': flags.crdWeight,
  negatives: flags.negatives,
};
const options: QualityOptions = {
  seeds: flags.seeds ?? [1, 2, 3],
  trainSize: flags.trainSize ?? (quick ? 1200 : 54000),
  validationSize: flags.validationSize ?? (quick ? 300 : 6000),
  smallSize: flags.smallSize ?? (quick ? 200 : 1800),
  omittedClass: flags.omittedClass,
  testSize: flags.testSize ?? (quick ? 500 : 10000),
  epochs: flags.epochs ?? (quick ? 2 : 10),
  teacherEpochs: flags.teacherEpochs ?? (quick ? 2 : 10),
  batchSize: flags.batchSize,
  learningRate: flags.lr,
  sizes: quick ? QUICK_SIZES : FULL_SIZES,
  pairs: flags.pairs,
  regimes: flags.regimes,
  methods: flags.methods,
  hyper: hyperFromFlags((name, fallback) => hyperFlags[name] ?? fallback, quick),
  out: flags.out ?? (quick ? 'out/quick' : 'out/full'),
  backend: choice.description,
  log: (line) => console.log(line),
};

if (flags.tune) {
  const { hyper, trials } = await tune(options, { temperature: [2, 4, 8], crdWeight: [0.4, 0.8, 1.6] });
  writeFileSync(join(options.out, 'tune.json'), JSON.stringify({ hyper, trials }, null, 2));
  console.log(`Picked on the validation split: temperature ${hyper.temperature}, crd weight ${hyper.crdWeight}`);
  process.exit(0);
}

const result = await runQuality(options);
const table = markdown(result);
writeFileSync(join(options.out, 'results.md'), `${table}\n`);
for (const pair of options.pairs) {
  for (const regime of options.regimes)
    writeFileSync(join(options.out, `curves-${pair}-${regime}.svg`), await curvesSvg(result, pair, regime));
}
writeFileSync(join(options.out, 'gap-closed.svg'), await gapSvg(result));
console.log(`\n${table}\n\nWrote ${options.out}/results.json, results.md, curves-*.svg, gap-closed.svg in ${result.seconds.toFixed(0)} s`);
