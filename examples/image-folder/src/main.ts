/**
 * Distil a CNN teacher into a small student from a folder of PNG images (real Fashion-MNIST
 * written as class folders), streaming: `pnpm --filter image-folder start [-- --train-size 60000]`.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { useWasmTraining } from '@kd/backend-wasm';
import '@tensorflow/tfjs-layers';
import { run } from './run';

const { values } = parseArgs({
  // `pnpm <script> -- --flag` passes the '--' through.
  args: process.argv.slice(2).filter((a, i) => !(i === 0 && a === '--')),
  options: {
    root: { type: 'string' },
    'train-size': { type: 'string', default: '12000' },
    'test-size': { type: 'string', default: '2000' },
    'teacher-epochs': { type: 'string', default: '3' },
    epochs: { type: 'string', default: '3' },
    'batch-size': { type: 'string', default: '64' },
    negatives: { type: 'string', default: '1024' },
    workers: { type: 'string', default: '1' },
    seed: { type: 'string', default: '1' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(`Usage: pnpm --filter image-folder start [-- --root DIR] [--train-size N] [--test-size N] [--teacher-epochs E]
  [--epochs E] [--batch-size B] [--negatives K] [--workers D] [--seed S]
Writes the first N Fashion-MNIST train/test images as PNG files into DIR/train/<label>-<class>/ and DIR/test/...
(reused when complete), then trains a CNN teacher, a student from scratch and a student with KD + CRD, streaming
from the folders, and prints the test accuracies.`);
  process.exit(0);
}
const int = (name: keyof typeof values) => {
  const value = Number(values[name]);
  if (!Number.isInteger(value) || value < 0) {
    console.error(`--${name} must be an integer >= 0, got "${values[name]}"`);
    process.exit(2);
  }
  return value;
};
await useWasmTraining();
const root = resolve(values.root ?? join(import.meta.dirname, '..', 'out', 'fashion-png'));
const result = await run({
  root,
  trainSize: int('train-size'),
  testSize: int('test-size'),
  teacherEpochs: int('teacher-epochs'),
  epochs: int('epochs'),
  batchSize: int('batch-size'),
  negatives: int('negatives'),
  workers: int('workers'),
  seed: int('seed'),
  verbose: true,
});
writeFileSync(join(root, 'results.json'), `${JSON.stringify(result.rows, null, 2)}\n`);
