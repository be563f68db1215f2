import '@tensorflow/tfjs-layers'; // registers the gradients
import { useWasmTraining } from '@kd/backend-wasm';
import { integerFlag, numberFlag, scriptArguments, usageExit } from '@kd/cli/flags';
import * as tf from '@tensorflow/tfjs-core';
import { Command, Option } from 'commander';
import { run } from './run';

/** The parsed flags (commander's camel-case keys). */
interface Flags {
  readonly trainSize: number;
  readonly testSize: number;
  readonly stepsScale: number;
  readonly teacherStepsScale: number;
  readonly batchSize: number;
  readonly resize: number;
  readonly crop: number;
  readonly baseLr: number;
  readonly temperature: number;
  readonly seed: number;
  readonly backend: 'wasm' | 'cpu';
}

const flags = new Command('pnpm --filter bit-fashion start')
  .usage('[-- options]')
  .description('Fine-tune a BiT teacher on Fashion-MNIST with the BiT-HyperRule schedule and distil it into a student.')
  .option('--train-size <n>', 'training examples drawn (seeded) from the 60 000', integerFlag('--train-size', { min: 1 }), 2000)
  .option('--test-size <n>', 'test examples drawn (seeded) from the 10 000', integerFlag('--test-size', { min: 1 }), 1000)
  .option('--steps-scale <s>', "scale of the HyperRule's step boundaries (student)", numberFlag('--steps-scale', { above: 0 }), 0.2)
  .option(
    '--teacher-steps-scale <s>',
    "scale of the HyperRule's step boundaries (teacher)",
    numberFlag('--teacher-steps-scale', { above: 0 }),
    0.4,
  )
  .option('--batch-size <n>', 'examples per step', integerFlag('--batch-size', { min: 1 }), 64)
  .option('--resize <px>', 'square resize before the random crop', integerFlag('--resize', { min: 1 }), 32)
  .option('--crop <px>', 'random crop size', integerFlag('--crop', { min: 1 }), 28)
  .option('--base-lr <lr>', 'base learning rate', numberFlag('--base-lr', { above: 0 }), 0.05)
  .option('--temperature <t>', 'softmax temperature of the KD term', numberFlag('--temperature', { above: 0 }), 4)
  .option('--seed <n>', 'seed of the data draw, the models and the batches', integerFlag('--seed'), 1)
  .addOption(
    new Option('--backend <name>', 'wasm (patched for training by @kd/backend-wasm) or cpu').choices(['wasm', 'cpu']).default('wasm'),
  )
  .addHelpText(
    'after',
    `
--steps-scale 1 --base-lr 0.003 runs the BiT-HyperRule schedule exactly (500 steps below 20 000 examples);
its 0.003 assumes a pre-trained model, and this teacher starts from random weights.`,
  )
  .exitOverride(usageExit) // a bad flag exits with status 2
  .parse(scriptArguments())
  .opts<Flags>();

if (flags.backend === 'wasm') {
  const report = await useWasmTraining();
  console.log(`Backend: wasm (simd ${report.simd}, ${report.kernels.length} kernels patched by @kd/backend-wasm)`);
} else {
  await import('@tensorflow/tfjs-backend-cpu');
  await tf.setBackend('cpu');
  console.log('Backend: cpu');
}

const { backend: _backend, ...options } = flags;
await run(options);
