import '@tensorflow/tfjs-backend-cpu';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { run } from './run';

const args = process.argv.slice(2);
const { values } = parseArgs({
  args: args[0] === '--' ? args.slice(1) : args,
  options: {
    epochs: { type: 'string', default: '3' },
    'teacher-epochs': { type: 'string', default: '3' },
    'batch-size': { type: 'string', default: '64' },
    seed: { type: 'string', default: '1' },
    'teacher-hidden': { type: 'string', default: '256,128' },
    'student-hidden': { type: 'string', default: '64,32' },
    guided: { type: 'string', default: '1' },
    hint: { type: 'string', default: '1' },
    temperature: { type: 'string', default: '4' },
    'kd-weight': { type: 'string', default: '0.9' },
    'crd-weight': { type: 'string', default: '0.8' },
    'fitnet-weight': { type: 'string', default: '100' },
    negatives: { type: 'string', default: '256' },
    'learning-rate': { type: 'string', default: '0.001' },
    train: { type: 'string', default: '3000' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log(`Usage: pnpm --filter fitnet-mnist start [-- --epochs N --teacher-epochs N --batch-size B --seed S
         --teacher-hidden 256,128 --student-hidden 64,32 --guided 1 --hint 1 --temperature T
         --kd-weight W --crd-weight W --fitnet-weight W --negatives K --learning-rate LR --train N]
One Distiller: 1*ce + kd-weight*kd(T) + crd-weight*crd + fitnet-weight*fitnet, on the cpu backend.
--guided / --hint pick the student / teacher hidden layer (1-based) of the FitNet hint.`);
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
const layers = (name: string, text: string) => text.split(',').map((t) => number(name, t, true));

await tf.setBackend('cpu');
await run({
  epochs: number('epochs', values.epochs, true),
  teacherEpochs: number('teacher-epochs', values['teacher-epochs'], true),
  batchSize: number('batch-size', values['batch-size'], true),
  seed: number('seed', values.seed, true),
  teacherHidden: layers('teacher-hidden', values['teacher-hidden']!),
  studentHidden: layers('student-hidden', values['student-hidden']!),
  guided: number('guided', values.guided, true),
  hint: number('hint', values.hint, true),
  temperature: number('temperature', values.temperature),
  kdWeight: number('kd-weight', values['kd-weight']),
  crdWeight: number('crd-weight', values['crd-weight']),
  fitnetWeight: number('fitnet-weight', values['fitnet-weight']),
  negatives: number('negatives', values.negatives, true),
  learningRate: number('learning-rate', values['learning-rate']),
  ...(values.train ? { train: number('train', values.train, true) } : {}),
  verbose: true,
});
