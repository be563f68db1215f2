import { parseArgs } from 'node:util';
import { BACKEND_ORDER, type BackendName, useBestBackend } from '@kd/backend-gpu';
import { run } from './run';

const { values } = parseArgs({
  // `pnpm <script> -- --flag` passes the '--' through.
  args: process.argv.slice(2).filter((a, i) => !(i === 0 && a === '--')),
  options: {
    epochs: { type: 'string', default: '15' },
    'teacher-epochs': { type: 'string', default: '15' },
    temperature: { type: 'string', default: '20' },
    alpha: { type: 'string', default: '0.9' },
    seed: { type: 'string', default: '1' },
    'student-seeds': { type: 'string', default: '3' },
    'batch-size': { type: 'string', default: '64' },
    'teacher-dropout': { type: 'string', default: '0' },
    'teacher-hidden': { type: 'string', default: '400,400' },
    'student-hidden': { type: 'string', default: '200,200' },
    transfer: { type: 'string', default: 'all' },
    backend: { type: 'string', default: 'auto' },
    out: { type: 'string', default: 'out/mnist-student' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log(`Usage: pnpm main [-- --epochs N --teacher-epochs N --temperature T --alpha A --seed S --student-seeds K
                 --batch-size B --teacher-dropout P --teacher-hidden 400,400 --student-hidden 200,200 --transfer N|all
                 --backend cpu|wasm|native|tfjs-node|tfjs-node-gpu|auto --out DIR]
The default backend (auto) is the fastest installed: tfjs-node(-gpu), else native (wasm patched for
training with @kd/backend-native's OpenBLAS kernels; skipped with the reason when its addon cannot load),
else wasm patched for training by @kd/backend-wasm (~40x the pure-JS cpu backend on these MLPs), else cpu.`);
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

const backend = values.backend!;
if (backend !== 'auto' && !BACKEND_ORDER.includes(backend as BackendName)) {
  console.error(`--backend must be one of ${BACKEND_ORDER.join(', ')} or auto, got "${backend}"`);
  process.exit(2);
}
const choice = await useBestBackend(backend as BackendName | 'auto');
console.log(`Backend: ${choice.description}`);

await run({
  epochs: number('epochs', values.epochs, true),
  teacherEpochs: number('teacher-epochs', values['teacher-epochs'], true),
  temperature: number('temperature', values.temperature),
  alpha: number('alpha', values.alpha),
  seed: number('seed', values.seed, true),
  studentSeeds: number('student-seeds', values['student-seeds'], true),
  batchSize: number('batch-size', values['batch-size'], true),
  teacherDropout: number('teacher-dropout', values['teacher-dropout']),
  teacherHidden: layers('teacher-hidden', values['teacher-hidden']!),
  studentHidden: layers('student-hidden', values['student-hidden']!),
  ...(values.transfer !== 'all' ? { transfer: number('transfer', values.transfer, true) } : {}),
  out: values.out!,
  verbose: true,
});
