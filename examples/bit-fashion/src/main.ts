import { parseArgs } from 'node:util';
import '@tensorflow/tfjs-layers'; // registers the gradients
import { useWasmTraining } from '@kd/backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { run } from './run';

const { values } = parseArgs({
  // `pnpm <script> -- --flag` passes the '--' through.
  args: process.argv.slice(2).filter((a, i) => !(i === 0 && a === '--')),
  options: {
    'train-size': { type: 'string', default: '2000' },
    'test-size': { type: 'string', default: '1000' },
    'steps-scale': { type: 'string', default: '0.2' },
    'teacher-steps-scale': { type: 'string', default: '0.4' },
    'batch-size': { type: 'string', default: '64' },
    resize: { type: 'string', default: '32' },
    crop: { type: 'string', default: '28' },
    'base-lr': { type: 'string', default: '0.05' },
    temperature: { type: 'string', default: '4' },
    seed: { type: 'string', default: '1' },
    backend: { type: 'string', default: 'wasm' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log(`Usage: pnpm --filter bit-fashion start [-- --train-size 2000 --test-size 1000 --steps-scale 0.2 --teacher-steps-scale 0.4
                 --batch-size 64 --base-lr 0.05 --resize 32 --crop 28 --temperature 4 --seed 1 --backend wasm|cpu]
--steps-scale 1 --base-lr 0.003 runs the BiT-HyperRule schedule exactly (500 steps below 20 000 examples);
its 0.003 assumes a pre-trained model, and this teacher starts from random weights.`);
  process.exit(0);
}

const number = (name: string, integer = false): number => {
  const text = values[name as keyof typeof values] as string;
  const value = Number(text);
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    console.error(`--${name} must be ${integer ? 'an integer' : 'a number'}, got "${text}"`);
    process.exit(2);
  }
  return value;
};

if (values.backend === 'wasm') {
  const report = await useWasmTraining();
  console.log(`Backend: wasm (simd ${report.simd}, ${report.kernels.length} kernels patched by @kd/backend-wasm)`);
} else {
  await import('@tensorflow/tfjs-backend-cpu');
  await tf.setBackend('cpu');
  console.log('Backend: cpu');
}

await run({
  trainSize: number('train-size', true),
  testSize: number('test-size', true),
  stepsScale: number('steps-scale'),
  teacherStepsScale: number('teacher-steps-scale'),
  batchSize: number('batch-size', true),
  resize: number('resize', true),
  crop: number('crop', true),
  baseLr: number('base-lr'),
  temperature: number('temperature'),
  seed: number('seed', true),
});
