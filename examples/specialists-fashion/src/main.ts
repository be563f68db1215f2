import '@tensorflow/tfjs-backend-cpu';
import { integerFlag, integerListFlag, numberFlag, scriptArguments, usageExit } from '@kd/cli/flags';
import * as tf from '@tensorflow/tfjs-core';
import { Command, Option } from 'commander';
import { run } from './run';

/** The parsed flags (commander's camel-case keys). */
interface Flags {
  readonly train: number;
  readonly test: number;
  readonly hidden: number;
  readonly generalistEpochs: number;
  readonly specialistEpochs: number;
  readonly studentEpochs: number;
  readonly clusters: number[];
  readonly maxSize: number;
  readonly top: number;
  readonly steps: number;
  readonly lr: number;
  readonly solver: 'gradient' | 'em';
  readonly temperature: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly data?: string;
}

const flags = new Command('pnpm start')
  .usage('[-- options]')
  .description(
    'Specialists on Fashion-MNIST (Hinton et al. 2015, sect. 5): a generalist, specialists on confusable class subsets, their combination and a distilled student.',
  )
  .option('--train <n>', 'training examples drawn (seeded) from the 60 000', integerFlag('--train', { min: 1 }), 8000)
  .option('--test <n>', 'test examples drawn (seeded) from the 10 000', integerFlag('--test', { min: 1 }), 5000)
  .option('--hidden <h>', 'hidden units of the generalist / student MLP (784-h-10)', integerFlag('--hidden', { min: 1 }), 128)
  .option('--generalist-epochs <n>', 'generalist epochs', integerFlag('--generalist-epochs', { min: 0 }), 2)
  .option('--specialist-epochs <n>', 'epochs of each specialist', integerFlag('--specialist-epochs', { min: 0 }), 2)
  .option('--student-epochs <n>', 'student epochs', integerFlag('--student-epochs', { min: 0 }), 2)
  .addOption(
    new Option('--clusters <counts>', 'k-means cluster counts (several give overlapping subsets)')
      .argParser(integerListFlag('--clusters', { min: 1 }))
      .default([3, 4, 5], '3,4,5'),
  )
  .option('--max-size <n>', 'largest class subset kept', integerFlag('--max-size', { min: 1 }), 5)
  .option('--top <n>', "a specialist is active when its classes meet the generalist's top-n", integerFlag('--top', { min: 1 }), 1)
  .option('--steps <s>', 'steps of the combination', integerFlag('--steps', { min: 0 }), 100)
  .option('--lr <lr>', 'step size of the gradient solver', numberFlag('--lr', { above: 0 }), 2)
  .addOption(new Option('--solver <name>', 'combination solver').choices(['gradient', 'em']).default('gradient'))
  .option('--temperature <t>', 'distillation temperature', numberFlag('--temperature', { above: 0 }), 2)
  .option('--batch-size <n>', 'examples per step', integerFlag('--batch-size', { min: 1 }), 64)
  .option('--seed <n>', 'seed of the data draw, the models and the batches', integerFlag('--seed'), 1)
  .option('--data <dir>', 'directory of the Fashion-MNIST IDX files (default: /usr/share/datasets/fashion-mnist)')
  .addHelpText(
    'after',
    `
Defaults run in about 3 minutes on the cpu backend (pure JS).`,
  )
  .exitOverride(usageExit) // a bad flag exits with status 2
  .parse(scriptArguments())
  .opts<Flags>();

await tf.setBackend('cpu');
await run({
  train: flags.train,
  test: flags.test,
  hidden: flags.hidden,
  generalistEpochs: flags.generalistEpochs,
  specialistEpochs: flags.specialistEpochs,
  studentEpochs: flags.studentEpochs,
  clusters: flags.clusters,
  combine: { topN: flags.top, steps: flags.steps, lr: flags.lr, solver: flags.solver },
  maxSize: flags.maxSize,
  temperature: flags.temperature,
  batchSize: flags.batchSize,
  seed: flags.seed,
  ...(flags.data ? { directory: flags.data } : {}),
  verbose: true,
});
