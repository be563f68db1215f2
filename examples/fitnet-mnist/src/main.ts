import '@tensorflow/tfjs-backend-cpu';
import { integerFlag, integerListFlag, numberFlag, scriptArguments, usageExit } from '@kd/cli/flags';
import * as tf from '@tensorflow/tfjs-core';
import { Command, Option } from 'commander';
import { run } from './run';

/** The parsed flags (commander's camel-case keys). */
interface Flags {
  readonly epochs: number;
  readonly teacherEpochs: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly teacherHidden: number[];
  readonly studentHidden: number[];
  readonly guided: number;
  readonly hint: number;
  readonly temperature: number;
  readonly kdWeight: number;
  readonly crdWeight: number;
  readonly fitnetWeight: number;
  readonly negatives: number;
  readonly learningRate: number;
  readonly train: number;
}

const flags = new Command('pnpm --filter fitnet-mnist start')
  .usage('[-- options]')
  .description('Distil an MLP teacher into a smaller MLP student on MNIST digits with KD, CRD and a FitNet hint in one Distiller.')
  .option('--epochs <n>', 'student epochs', integerFlag('--epochs', { min: 0 }), 3)
  .option('--teacher-epochs <n>', 'teacher epochs', integerFlag('--teacher-epochs', { min: 0 }), 3)
  .option('--batch-size <n>', 'examples per step', integerFlag('--batch-size', { min: 1 }), 64)
  .option('--seed <n>', 'seed of the data, the models and the batches', integerFlag('--seed'), 1)
  .addOption(
    new Option('--teacher-hidden <units>', "teacher's hidden layer sizes")
      .argParser(integerListFlag('--teacher-hidden', { min: 1 }))
      .default([256, 128], '256,128'),
  )
  .addOption(
    new Option('--student-hidden <units>', "student's hidden layer sizes")
      .argParser(integerListFlag('--student-hidden', { min: 1 }))
      .default([64, 32], '64,32'),
  )
  .option('--guided <layer>', 'student hidden layer (1-based) guided by the FitNet hint', integerFlag('--guided', { min: 1 }), 1)
  .option('--hint <layer>', 'teacher hidden layer (1-based) giving the hint', integerFlag('--hint', { min: 1 }), 1)
  .option('--temperature <t>', 'KD temperature', numberFlag('--temperature', { above: 0 }), 4)
  .option('--kd-weight <w>', 'weight of the KD term', numberFlag('--kd-weight', { min: 0 }), 0.9)
  .option('--crd-weight <w>', 'weight of the CRD term', numberFlag('--crd-weight', { min: 0 }), 0.8)
  .option('--fitnet-weight <w>', 'weight of the FitNet term', numberFlag('--fitnet-weight', { min: 0 }), 100)
  .option('--negatives <k>', 'CRD negatives per anchor (below the training examples)', integerFlag('--negatives', { min: 1 }), 256)
  .option('--learning-rate <lr>', 'Adam learning rate', numberFlag('--learning-rate', { above: 0 }), 0.001)
  .option('--train <n>', 'training examples (seeded subset; 0: all 8000)', integerFlag('--train', { min: 0 }), 3000)
  .addHelpText(
    'after',
    `
One Distiller: 1*ce + kd-weight*kd(T) + crd-weight*crd + fitnet-weight*fitnet, on the cpu backend.
--guided / --hint pick the student / teacher hidden layer (1-based) of the FitNet hint.`,
  )
  .exitOverride(usageExit) // a bad flag exits with status 2
  .parse(scriptArguments())
  .opts<Flags>();

await tf.setBackend('cpu');
const { train, ...options } = flags;
await run({ ...options, ...(train ? { train } : {}), verbose: true });
