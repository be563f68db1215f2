#!/usr/bin/env node
// Per-kernel regression benchmark of the patched wasm kernels (a script, not a test):
//   pnpm --filter @kd/backend-wasm build
//   node packages/backend-wasm/bench/baseline.mjs --rev <before>     # optional: builds the "before" side
//   node packages/backend-wasm/bench/kernels.mjs [--reps 7] [--warmup 3] [--baseline <path printed above>] [--only conv,pool]
//     [--extra] [--out file.json]          # --extra: two larger conv dW shapes as well
// Shapes: the two Conv2DBackpropFilter and two MaxPoolGrad calls of one step of the Fashion-MNIST
// CNN student of examples/bench (conv8-pool-conv16-pool, 3x3 'same', batch 64), and CRD's
// reference scoring product at K = 4096 (B = 64, d = 128) with its gradient for the anchors.
// Sides: `stock` (tfjs-backend-wasm 4.22 as shipped, where it has the kernel), `kd` (this build,
// dist/) and, with --baseline, another build of this package. Sides are interleaved per rep
// (A B C A B C ...) after --warmup (3) untimed calls each, on fresh copies of the inputs every call
// (as in training: the stock kernels cache XNNPACK's packed weights by tensor id); medians (and min/max) of the reps; the load
// average is printed before and after. Prints a markdown table, writes JSON (default
// bench/kernels.json).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', 'package.json'));
const tf = require('@tensorflow/tfjs-core');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const reps = Number(arg('reps', 7));
const warmup = Number(arg('warmup', 3));
const out = arg('out', join(here, 'kernels.json'));
const only = arg('only', undefined)?.split(',');
const baselinePath = arg('baseline', undefined);
const extra = process.argv.includes('--extra');

const kd = await import('../dist/index.js');
await kd.useWasmTraining();
const baseline = baselinePath == null ? undefined : await import(pathToFileURL(resolve(baselinePath)).href);
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
const uptime = () => {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return `load average: ${load()}`;
  }
};

/** Makes `side` the active set of wasm kernels. */
function activate(side) {
  kd.unpatchWasmKernels();
  baseline?.unpatchWasmKernels();
  if (side === 'kd') kd.patchWasmKernels();
  if (side === 'baseline') baseline.patchWasmKernels();
}

const B = 64;
const K = 4096;
const D = 128;
const conv = (x, f, co) => ({
  kernel: 'Conv2DBackpropFilter',
  inputs: () => ({ x: tf.randomNormal(x, 0, 1, 'float32', 1), dy: tf.randomNormal([...x.slice(0, 3), co], 0, 1, 'float32', 2) }),
  attrs: { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: [f, f, x[3], co] },
  flops: 2 * x[0] * x[1] * x[2] * f * f * x[3] * co,
});
const pool = (x) => ({
  kernel: 'MaxPoolGrad',
  inputs: () => {
    const input = tf.randomNormal(x, 0, 1, 'float32', 3);
    const output = tf.maxPool(input, 2, 2, 'valid');
    return { dy: tf.randomNormal(output.shape, 0, 1, 'float32', 4), input, output };
  },
  attrs: { filterSize: [2, 2], strides: [2, 2], pad: 'valid', dimRoundingMode: undefined },
});
const cases = {
  'conv1 dW: x [64,28,28,1], dy [64,28,28,8], 3x3 same': conv([B, 28, 28, 1], 3, 8),
  'conv2 dW: x [64,14,14,8], dy [64,14,14,16], 3x3 same': conv([B, 14, 14, 8], 3, 16),
  ...(extra
    ? {
        'conv dW (extra): x [64,14,14,32], dy [64,14,14,64], 3x3 same': conv([B, 14, 14, 32], 3, 64),
        'conv dW (extra): x [16,32,32,64], dy [16,32,32,64], 3x3 same': conv([16, 32, 32, 64], 3, 64),
      }
    : {}),
  'pool1 grad: [64,28,28,8] 2x2/2': pool([B, 28, 28, 8]),
  'pool2 grad: [64,14,14,16] 2x2/2': pool([B, 14, 14, 16]),
  'CRD scores: [64,4096,128] x [64,128,1]': {
    kernel: 'BatchMatMul',
    inputs: () => ({ a: tf.randomNormal([B, K, D], 0, 1, 'float32', 5), b: tf.randomNormal([B, D, 1], 0, 1, 'float32', 6) }),
    attrs: { transposeA: false, transposeB: false },
    flops: 2 * B * K * D,
  },
  'CRD scores grad: [64,4096,128]^T x [64,4096,1]': {
    kernel: 'BatchMatMul',
    inputs: () => ({ a: tf.randomNormal([B, K, D], 0, 1, 'float32', 5), b: tf.randomNormal([B, K, 1], 0, 1, 'float32', 7) }),
    attrs: { transposeA: true, transposeB: false },
    flops: 2 * B * K * D,
  },
};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const sides = ['stock', 'kd', ...(baseline ? ['baseline'] : [])];
const loadBefore = uptime();
console.error(loadBefore);
const results = [];
for (const [name, c] of Object.entries(cases)) {
  if (only && !only.some((o) => name.includes(o))) continue;
  const base = c.inputs();
  const times = Object.fromEntries(sides.map((s) => [s, []]));
  const failed = {};
  const lastMs = {};
  // Cheap cases (under 50 ms per call on every side) get 5x the reps: their noise is relatively larger.
  let caseReps = reps;
  for (let r = -warmup; r < caseReps; r++) {
    if (r === 0 && Math.max(...sides.map((s) => (failed[s] ? 0 : (lastMs[s] ?? 0)))) < 50) caseReps = reps * 5;
    for (const side of sides) {
      if (failed[side]) continue;
      activate(side);
      // Fresh copies every call, as in training: wasm caches XNNPACK's packed weights by tensor id.
      const inputs = Object.fromEntries(Object.entries(base).map(([key, t]) => [key, tf.add(t, 0)]));
      try {
        const t0 = performance.now();
        tf.dispose(tf.engine().runKernel(c.kernel, inputs, c.attrs));
        const ms = performance.now() - t0;
        lastMs[side] = ms;
        if (r >= 0) times[side].push(ms);
      } catch (e) {
        failed[side] = String(e.message ?? e).split('\n')[0];
      }
      tf.dispose(Object.values(inputs));
    }
  }
  tf.dispose(Object.values(base));
  const row = { case: name, kernel: c.kernel, flops: c.flops };
  for (const side of sides) {
    row[side] = failed[side]
      ? { failed: failed[side] }
      : { msMedian: median(times[side]), msMin: Math.min(...times[side]), msMax: Math.max(...times[side]), ms: times[side] };
  }
  results.push(row);
  console.error(`done ${name}`);
}
activate('kd');
const loadAfter = uptime();

const cell = (r) => (r.failed ? (r.failed.includes('not registered') ? 'missing' : `fails: ${r.failed}`) : `${r.msMedian.toFixed(2)} (${r.msMin.toFixed(2)}-${r.msMax.toFixed(2)})`);
const head = (s) => (s === 'kd' ? 'kd (this build)' : s === 'baseline' ? `baseline (${baselinePath})` : 'stock 4.22');
console.log(`Per-kernel ms, median (min-max) of ${reps} interleaved reps (${reps * 5} for cases under 50 ms); wasm SIMD, 1 thread, ${cpus()[0]?.model ?? '?'} x ${cpus().length}, Node ${process.version}`);
console.log(`before: ${loadBefore}`);
console.log(`after:  ${loadAfter}`);
console.log(`| case | ${sides.map(head).join(' | ')} |${baseline ? ' baseline / kd |' : ''} kd GFLOPS |`);
console.log(`|---|${sides.map(() => '---:').join('|')}|${baseline ? '---:|' : ''}---:|`);
for (const r of results) {
  const ratio = baseline && !r.baseline.failed && !r.kd.failed ? ` ${(r.baseline.msMedian / r.kd.msMedian).toFixed(1)}x |` : baseline ? ' - |' : '';
  const gflops = r.flops && !r.kd.failed ? (r.flops / r.kd.msMedian / 1e6).toFixed(1) : '-';
  console.log(`| ${r.case} | ${sides.map((s) => cell(r[s])).join(' | ')} |${ratio} ${gflops} |`);
}
writeFileSync(
  out,
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model, cores: cpus().length, reps, baseline: baselinePath ?? null, loadBefore, loadAfter, results }, null, 1)}\n`,
);
