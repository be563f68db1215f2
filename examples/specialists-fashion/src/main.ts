import { parseArgs } from 'node:util';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { run } from './run';

const { values } = parseArgs({
  // `pnpm <script> -- --flag` passes the '--' through.
  args: process.argv.slice(2).filter((a, i) => !(i === 0 && a === '--')),
  options: {
    train: { type: 'string', default: '8000' },
    test: { type: 'string', default: '5000' },
    hidden: { type: 'string', default: '128' },
    'generalist-epochs': { type: 'string', default: '2' },
    'specialist-epochs': { type: 'string', default: '2' },
    'student-epochs': { type: 'string', default: '2' },
    clusters: { type: 'string', default: '3,4,5' },
    'max-size': { type: 'string', default: '5' },
    top: { type: 'string', default: '1' },
    steps: { type: 'string', default: '100' },
    lr: { type: 'string', default: '2' },
    solver: { type: 'string', default: 'gradient' },
    temperature: { type: 'string', default: '2' },
    'batch-size': { type: 'string', default: '64' },
    seed: { type: 'string', default: '1' },
    data: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log(`Usage: pnpm start [-- --train N --test N --hidden H --generalist-epochs E --specialist-epochs E
                  --student-epochs E --clusters 3,4,5 --max-size 5 --top N --steps S --lr LR --solver gradient|em
                  --temperature T --batch-size B --seed S --data DIR]
Defaults run in about 3 minutes on the cpu backend (pure JS). --data: directory of the Fashion-MNIST
IDX files (default /usr/share/datasets/fashion-mnist).`);
  process.exit(0);
}

function number(name: string, text: string | undefined, integer = false): number {
  const value = Number(text);
  if (text === undefined || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    console.error(`--${name} must be ${integer ? 'an integer' : 'a number'}, got "${text}"`);
    process.exit(2);
  }
  return value;
}
if (values.solver !== 'gradient' && values.solver !== 'em') {
  console.error(`--solver must be gradient or em, got "${values.solver}"`);
  process.exit(2);
}

await tf.setBackend('cpu');
await run({
  train: number('train', values.train, true),
  test: number('test', values.test, true),
  hidden: number('hidden', values.hidden, true),
  generalistEpochs: number('generalist-epochs', values['generalist-epochs'], true),
  specialistEpochs: number('specialist-epochs', values['specialist-epochs'], true),
  studentEpochs: number('student-epochs', values['student-epochs'], true),
  clusters: values.clusters!.split(',').map((t) => number('clusters', t, true)),
  combine: {
    topN: number('top', values.top, true),
    steps: number('steps', values.steps, true),
    lr: number('lr', values.lr),
    solver: values.solver as 'gradient' | 'em',
  },
  maxSize: number('max-size', values['max-size'], true),
  temperature: number('temperature', values.temperature),
  batchSize: number('batch-size', values['batch-size'], true),
  seed: number('seed', values.seed, true),
  ...(values.data ? { directory: values.data } : {}),
  verbose: true,
});
