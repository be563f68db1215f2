import { join, resolve } from 'node:path';
import type { BackendName } from '@kd/backend-gpu';
import { backendOption, integerFlag, integerListFlag } from '@kd/cli/flags';
import type { Command } from 'commander';
import { FULL_SIZES, QUICK_SIZES } from './models';
import type { HyperParameters, Method, QualityOptions } from './run';

/** The flags {@link regimeTwoFlags} adds, parsed (commander's camel-case keys); absent: the regime's default. */
export interface RegimeTwoFlags {
  readonly quick?: boolean;
  readonly backend: BackendName | 'auto';
  readonly seeds?: number[];
  readonly trainSize?: number;
  readonly validationSize?: number;
  readonly smallSize?: number;
  readonly testSize?: number;
  readonly epochs?: number;
  readonly teacherEpochs?: number;
  readonly teachers?: string;
}

/**
 * Adds regime (ii)'s flags to `command`: `--quick`, `--backend` (default wasm), `--seeds`, the
 * sizes and schedule (defaults of {@link regimeTwoOptions}) and `--teachers`; each bench adds its `--out`.
 */
export function regimeTwoFlags(command: Command): Command {
  const size = (flag: string, description: string, full: number, quick: number) =>
    command.option(`${flag} <n>`, `${description} (default: ${full}; ${quick} with --quick)`, integerFlag(flag, { min: 1 }));
  command
    .option('--quick', 'tiny models and sizes (seconds)')
    .addOption(backendOption('wasm'))
    .option('--seeds <list>', 'seeds, one run each (default: 1,2,3; 1 with --quick)', integerListFlag('--seeds', { min: 0 }));
  size('--train-size', "examples of the teacher's training pool", 54000, 1200);
  size('--validation-size', 'held-out examples (model selection)', 6000, 300);
  size('--small-size', 'examples of the transfer set', 1800, 200);
  size('--test-size', 'test examples evaluated', 10000, 500);
  size('--epochs', 'rounds of the student (each as many steps as an epoch of the pool)', 3, 2);
  size('--teacher-epochs', 'teacher epochs on the pool (when not cached)', 5, 1);
  return command.option(
    '--teachers <dir>',
    "the quality bench's output folder whose teachers/ cache is used (default: out/full; out/quick with --quick)",
  );
}

/**
 * The quality bench's regime (ii) as in its README's medium run (3 rounds of 29 epochs of the
 * 1,800-example transfer set = 2,523 steps, teachers 5 epochs on the 54,000-example pool, CNN
 * pair), for the benches that reuse it (`src/store/accuracy.ts`, `src/crdQueue/main.ts`); `quick`:
 * tiny models and sizes. The teachers come from the quality bench's cache (`<teachers>/teachers/`).
 */
export function regimeTwoOptions(args: {
  readonly flags: RegimeTwoFlags;
  readonly methods: Method[];
  readonly hyper: HyperParameters;
  readonly backend: string;
}): QualityOptions {
  const { flags } = args;
  const quick = flags.quick === true;
  const here = resolve(import.meta.dirname, '..', '..');
  return {
    seeds: flags.seeds ?? (quick ? [1] : [1, 2, 3]),
    trainSize: flags.trainSize ?? (quick ? 1200 : 54000),
    validationSize: flags.validationSize ?? (quick ? 300 : 6000),
    smallSize: flags.smallSize ?? (quick ? 200 : 1800),
    omittedClass: 3,
    testSize: flags.testSize ?? (quick ? 500 : 10000),
    epochs: flags.epochs ?? (quick ? 2 : 3),
    teacherEpochs: flags.teacherEpochs ?? (quick ? 1 : 5),
    batchSize: 64,
    learningRate: 0.001,
    sizes: quick ? QUICK_SIZES : FULL_SIZES,
    pairs: ['cnn'],
    regimes: ['small'],
    methods: args.methods,
    hyper: args.hyper,
    // The quality bench's default output folder: its teacher cache (`teachers/`) is shared.
    out: resolve(flags.teachers ?? join(here, quick ? 'out/quick' : 'out/full')),
    backend: args.backend,
    log: (line) => console.log(line),
  };
}
