import { type BackendName, useBestBackend } from '@kd/backend-gpu';
import { backendOption, integerFlag, integerListFlag, numberFlag, scriptArguments, usageExit } from '@kd/cli/flags';
import { Command, Option } from 'commander';
import { run } from './run';

/** The parsed flags (commander's camel-case keys). */
interface Flags {
  readonly epochs: number;
  readonly teacherEpochs: number;
  readonly temperature: number;
  readonly alpha: number;
  readonly seed: number;
  readonly studentSeeds: number;
  readonly batchSize: number;
  readonly teacherDropout: number;
  readonly teacherHidden: number[];
  readonly studentHidden: number[];
  readonly transfer: number | 'all';
  readonly backend: BackendName | 'auto';
  readonly out: string;
}

const transferSize = integerFlag('--transfer', { min: 0 });

const flags = new Command('pnpm main')
  .usage('[-- options]')
  .description(
    'Distil an MNIST MLP teacher into a smaller MLP student (Hinton et al. 2015) and compare it with students trained from scratch.',
  )
  .option('--epochs <n>', 'student epochs (scratch and distilled alike)', integerFlag('--epochs', { min: 0 }), 15)
  .option('--teacher-epochs <n>', 'teacher epochs', integerFlag('--teacher-epochs', { min: 0 }), 15)
  .option('--temperature <t>', 'softmax temperature of the soft targets', numberFlag('--temperature', { above: 0 }), 20)
  .option(
    '--alpha <a>',
    'weight of the soft-target term (the hard-label term gets 1 - alpha)',
    numberFlag('--alpha', { min: 0, max: 1 }),
    0.9,
  )
  .option('--seed <n>', 'seed of the models, the data order and the transfer subset', integerFlag('--seed'), 1)
  .option('--student-seeds <k>', 'student seeds per arm (scratch and KD pair up by seed)', integerFlag('--student-seeds', { min: 1 }), 3)
  .option('--batch-size <n>', 'examples per step', integerFlag('--batch-size', { min: 1 }), 64)
  .option(
    '--teacher-dropout <p>',
    "dropout rate after each of the teacher's hidden layers (0: none)",
    numberFlag('--teacher-dropout', { min: 0 }),
    0,
  )
  .addOption(
    new Option('--teacher-hidden <units>', "teacher's hidden layer sizes")
      .argParser(integerListFlag('--teacher-hidden', { min: 1 }))
      .default([400, 400], '400,400'),
  )
  .addOption(
    new Option('--student-hidden <units>', "student's hidden layer sizes")
      .argParser(integerListFlag('--student-hidden', { min: 1 }))
      .default([200, 200], '200,200'),
  )
  .option<number | 'all'>(
    '--transfer <n>',
    'training examples the students see (the transfer set) (0 or all: every one)',
    (text) => (text === 'all' ? 'all' : transferSize(text)),
    'all',
  )
  .addOption(backendOption())
  .option('--out <dir>', 'folder the distilled student (first seed) is saved to', 'out/mnist-student')
  .addHelpText(
    'after',
    `
The default backend (auto) is the fastest installed: tfjs-node(-gpu), else native (wasm patched for
training with @kd/backend-native's OpenBLAS kernels; skipped with the reason when its addon cannot load),
else wasm patched for training by @kd/backend-wasm (~40x the pure-JS cpu backend on these MLPs), else cpu.`,
  )
  .exitOverride(usageExit) // a bad flag exits with status 2
  .parse(scriptArguments())
  .opts<Flags>();

const choice = await useBestBackend(flags.backend);
console.log(`Backend: ${choice.description}`);

const { backend: _backend, transfer, ...options } = flags;
await run({ ...options, ...(transfer !== 'all' ? { transfer } : {}), verbose: true });
