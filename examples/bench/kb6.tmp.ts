import { PerformanceObserver } from 'node:perf_hooks';
import { useBestBackend } from '@kd/backend-gpu';
import { adam, Distiller, hardLabel, softTargets } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { cnn, mlp } from './src/quality/models';
await useBestBackend('wasm');
const { useNativeKernels } = await import('@kd/backend-native');
await useNativeKernels({ wasmTraining: false });
const gcs: { start: number; end: number; kind: number }[] = [];
new PerformanceObserver((l) => { for (const e of l.getEntries()) gcs.push({ start: e.startTime, end: e.startTime + e.duration, kind: (e as any).detail?.kind }); }).observe({ entryTypes: ['gc'] });
const x = tf.randomUniform([64*20, 28, 28, 1], 0, 1, 'float32', 1);
const y = tf.randomUniform([64*20], 0, 10, 'int32', 2) as tf.Tensor1D;
const teacher = cnn('teacher', 32, 64, 128, 1);
const student = mlp('mlp_student', 64, 32, 5);
const d = new Distiller({ student, teacher, optimizer: adam({ learningRate: 1e-3 }), seed: 1 }).use(hardLabel({ weight: 0.1 }), softTargets({ temperature: 4, weight: 0.9 }));
let ep = 1;
await d.fit({ x, y }, { epochs: 1, batchSize: 64 });
const all: number[] = []; let slow = 0, slowGc = 0, gcMs = 0;
for (let r = 0; r < 30; r++) {
  const ends: number[] = [];
  await d.fit({ x, y }, { epochs: ++ep, batchSize: 64, onEvent: (e) => { if (e.type === 'step-end') ends.push(performance.now()); } });
  for (let i = 1; i < ends.length; i++) { const iv = ends[i]! - ends[i-1]!; all.push(iv); if (iv > 2) { slow++; const g = gcs.filter(g => g.end > ends[i-1]! && g.start < ends[i]!); if (g.length) { slowGc++; gcMs += g.reduce((s, x) => s + x.end - x.start, 0); } } }
}
all.sort((a, b) => a - b);
const mean = all.reduce((a, b) => a + b, 0) / all.length;
console.log('steps', all.length, 'median', all[all.length >> 1]!.toFixed(3), 'mean', mean.toFixed(3), 'p90', all[Math.floor(all.length*0.9)]!.toFixed(2), 'max', all.at(-1)!.toFixed(2), 'slow(>2ms)', slow, 'with gc', slowGc, 'gc ms in them', gcMs.toFixed(1), 'gcs total', gcs.length);
