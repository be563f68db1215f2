/**
 * Distil a CNN teacher into a small student from a folder of PNG images (real Fashion-MNIST
 * written as class folders), streaming: `pnpm --filter image-folder start [-- --train-size 60000]`.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { useWasmTraining } from '@kd/backend-wasm';
import { integerFlag, scriptArguments, usageExit } from '@kd/cli/flags';
import '@tensorflow/tfjs-layers';
import { Command } from 'commander';
import { run } from './run';

/** The parsed flags (commander's camel-case keys). */
interface Flags {
  readonly root?: string;
  readonly trainSize: number;
  readonly testSize: number;
  readonly teacherEpochs: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly negatives: number;
  readonly workers: number;
  readonly seed: number;
}

const flags = new Command('pnpm --filter image-folder start')
  .usage('[-- options]')
  .description('Distil a CNN teacher into a small CNN student, streaming from a folder of Fashion-MNIST PNG images.')
  .option('--root <dir>', 'folder of the PNG images (default: out/fashion-png next to src/)')
  .option('--train-size <n>', 'Fashion-MNIST training images written and trained on', integerFlag('--train-size', { min: 1 }), 12000)
  .option('--test-size <n>', 'Fashion-MNIST test images written and evaluated', integerFlag('--test-size', { min: 1 }), 2000)
  .option('--teacher-epochs <n>', 'teacher epochs', integerFlag('--teacher-epochs', { min: 0 }), 3)
  .option('--epochs <n>', 'student epochs', integerFlag('--epochs', { min: 0 }), 3)
  .option('--batch-size <n>', 'examples per step', integerFlag('--batch-size', { min: 1 }), 64)
  .option('--negatives <k>', "CRD's shared negatives", integerFlag('--negatives', { min: 1 }), 1024)
  .option('--workers <n>', 'decode worker threads (0: the calling thread)', integerFlag('--workers', { min: 0 }), 1)
  .option('--seed <n>', 'seed of the models and the batches', integerFlag('--seed', { min: 0 }), 1)
  .addHelpText(
    'after',
    `
Writes the first N Fashion-MNIST train/test images as PNG files into DIR/train/<label>-<class>/ and DIR/test/...
(reused when complete), then trains a CNN teacher, a student from scratch and a student with KD + CRD, streaming
from the folders, and prints the test accuracies.`,
  )
  .exitOverride(usageExit) // a bad flag exits with status 2
  .parse(scriptArguments())
  .opts<Flags>();

await useWasmTraining();
const { root: rootFlag, ...options } = flags;
const root = resolve(rootFlag ?? join(import.meta.dirname, '..', 'out', 'fashion-png'));
const result = await run({ root, ...options, verbose: true });
writeFileSync(join(root, 'results.json'), `${JSON.stringify(result.rows, null, 2)}\n`);
