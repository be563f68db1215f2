#!/usr/bin/env node
// Step-time benchmark of cpu vs stock wasm vs patched wasm (a script, not a test).
//   pnpm --filter @kd/backend-wasm build && node packages/backend-wasm/bench/backends.mjs [--reps 7] [--cpu-reps 3] [--out file.json]
// Prints a table and writes JSON (default: packages/backend-wasm/bench/results.json).
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', 'package.json'));
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const tfl = require('@tensorflow/tfjs-layers');
const { useWasmTraining, unpatchWasmKernels, patchWasmKernels } = await import('../dist/index.js');

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const reps = Number(arg('reps', 7));
const cpuReps = Number(arg('cpu-reps', 3));
const out = arg('out', join(here, 'results.json'));

function convnet() {
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, padding: 'same', activation: 'relu' }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tfl.layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 128, activation: 'relu' }));
  m.add(tfl.layers.dense({ units: 10 }));
  return m;
}

function mlp() {
  const m = tfl.sequential();
  m.add(tfl.layers.dense({ inputShape: [784], units: 1200, activation: 'relu' }));
  m.add(tfl.layers.dense({ units: 1200, activation: 'relu' }));
  m.add(tfl.layers.dense({ units: 10 }));
  return m;
}

const models = {
  'convnet b64': { make: convnet, input: [64, 28, 28, 1], batch: 64 },
  'mlp b128': { make: mlp, input: [128, 784], batch: 128 },
};

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Median ms of one SGD step (forward, backward, update) after one warm-up step. */
async function stepTime(spec, n) {
  tf.util.seedrandom?.(1);
  const model = spec.make();
  const x = tf.randomNormal(spec.input, 0, 1, 'float32', 1);
  const y = tf.oneHot(tf.randomUniform([spec.batch], 0, 10, 'int32', 2), 10);
  const opt = tf.train.sgd(0.01);
  const step = () => {
    const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x)), true);
    loss.dataSync();
    loss.dispose();
  };
  step();
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  tf.dispose([x, y]);
  model.dispose();
  opt.dispose();
  return median(times);
}

const rows = [];
async function measure(backend, label, n) {
  for (const [name, spec] of Object.entries(models)) {
    let ms = null;
    let error;
    try {
      ms = await stepTime(spec, n);
    } catch (e) {
      error = String(e.message ?? e).split('\n')[0];
    }
    rows.push({ backend: label, model: name, batch: spec.batch, reps: n, msPerStep: ms, samplesPerSec: ms ? (spec.batch * 1000) / ms : null, error });
    console.error(`${label} ${name}: ${ms ? ms.toFixed(1) + ' ms' : error}`);
  }
}

await tf.setBackend('cpu');
await measure('cpu', 'cpu', cpuReps);
const report = await useWasmTraining();
unpatchWasmKernels();
await measure('wasm', 'wasm (stock 4.22)', reps);
patchWasmKernels();
await measure('wasm', 'wasm (patched)', reps);

const cpuMs = Object.fromEntries(rows.filter((r) => r.backend === 'cpu').map((r) => [r.model, r.msPerStep]));
for (const r of rows) r.speedupVsCpu = r.msPerStep && cpuMs[r.model] ? cpuMs[r.model] / r.msPerStep : null;

const table = [
  '| backend | model | ms/step (median) | samples/s | vs cpu |',
  '|---|---|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.backend} | ${r.model} | ${r.msPerStep ? r.msPerStep.toFixed(1) : `fails: ${r.error}`} | ${r.samplesPerSec ? r.samplesPerSec.toFixed(0) : '-'} | ${r.speedupVsCpu ? r.speedupVsCpu.toFixed(1) + 'x' : '-'} |`,
  ),
].join('\n');
console.log(table);
const result = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: `${cpus().length} x ${cpus()[0]?.model ?? '?'}`,
  tfjs: tf.version_core,
  simd: report.simd,
  threads: report.threads,
  rows,
};
writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
console.error(`wrote ${out}`);
