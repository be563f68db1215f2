#!/usr/bin/env node
// Kernel benchmark of @kd/backend-native (a script, not a test): per kernel, ms and GFLOPS of the
// native OpenBLAS kernels (A) against kd's patched wasm kernels (B, @kd/backend-wasm), on the
// shapes of examples/bench/src/quality's models at batch 64 (teacher CNN conv32-conv64-dense128,
// student CNN conv8-conv16-dense32, MLP student 64-32) and on square matmuls 256..1024; then one
// SGD step of each model. A and B are interleaved (A B A B ...), each number is the median of
// --reps runs (default 7, at least 5) after two warm-up runs per side. The one-core sgemm peak of
// the addon (a plain 1024^3 sgemm, no tfjs) is measured in the same run; the load (`uptime`) is
// printed before and after.
//   pnpm --filter @kd/backend-native build && pnpm --filter @kd/backend-native bench [--reps 7] [--quick] [--out file.json]
// Prints a table; writes JSON (default bench/results.json) and the table as bench/results.md.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', 'package.json'));
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const tfl = require('@tensorflow/tfjs-layers');
const native = await import('../dist/index.js');

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const reps = Math.max(5, Number(arg('reps', 7)));
const quick = process.argv.includes('--quick');
const out = arg('out', join(here, 'results.json'));
const uptime = () => {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return `load average: ${loadavg().map((l) => l.toFixed(2)).join(', ')}`;
  }
};

const loadBefore = uptime();
console.log(`uptime before: ${loadBefore}`);
const report = await native.useNativeKernels();
if (!report.active) {
  console.error(`native kernels off: ${report.reason}`);
  process.exit(1);
}
console.log(report.description);
console.log(`wasm: SIMD ${report.wasm.simd}, ${report.wasm.threads} thread(s), ${report.wasm.kernels.length} kernels patched by @kd/backend-wasm`);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const on = () => native.useNativeKernelsSync({ wasmTraining: false });
const off = () => native.unuseNativeKernels();

/** Median ms of `fn` with the native kernels (A) and without (B), interleaved. */
function ab(fn) {
  const time = () => {
    const t0 = performance.now();
    // wasm kernels (stock, patched and native) run synchronously: the result is complete when
    // runKernel returns, and reading it back would only add a copy of the output to both sides.
    tf.tidy(() => {
      fn();
    });
    return performance.now() - t0;
  };
  for (let i = 0; i < 2; i++) {
    on();
    time();
    off();
    time();
  }
  const a = [];
  const b = [];
  for (let i = 0; i < reps; i++) {
    on();
    a.push(time());
    off();
    b.push(time());
  }
  on();
  return { native: median(a), wasm: median(b), nativeRuns: a, wasmRuns: b };
}

const rnd = (shape, seed) => tf.randomNormal(shape, 0, 1, 'float32', seed);
const keep = (t) => tf.keep(t);

/** Kernel cases of one conv layer: forward (FusedConv2D + bias + relu, as tfjs-layers runs it), dx, dW. */
function convCases(model, layer, [b, h, w, ci], co, { dx = true } = {}) {
  const x = keep(rnd([b, h, w, ci], 1));
  const f = keep(rnd([3, 3, ci, co], 2));
  const bias = keep(rnd([co], 3));
  const dy = keep(rnd([b, h, w, co], 4));
  const flops = 2 * b * h * w * co * 9 * ci;
  const attrs = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC' };
  const cases = [
    {
      model,
      op: `${layer} forward`,
      kernel: 'FusedConv2D',
      shape: `${b}x${h}x${w}x${ci} * 3x3x${ci}x${co}`,
      flops,
      run: () => tf.fused.conv2d({ x, filter: f, strides: 1, pad: 'same', bias, activation: 'relu' }),
    },
  ];
  if (dx) {
    cases.push({
      model,
      op: `${layer} dx`,
      kernel: 'Conv2DBackpropInput',
      shape: `dy ${b}x${h}x${w}x${co}`,
      flops,
      run: () => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: f }, { ...attrs, inputShape: [b, h, w, ci] }),
    });
  }
  cases.push({
    model,
    op: `${layer} dW`,
    kernel: 'Conv2DBackpropFilter',
    shape: `x ${b}x${h}x${w}x${ci}, dy ..x${co}`,
    flops,
    run: () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: [3, 3, ci, co] }),
  });
  return cases;
}

/** Kernel cases of one dense layer [b, k] x [k, n]: forward (_FusedMatMul + bias + relu), dx, dW. */
function denseCases(model, layer, b, k, n, { dx = true } = {}) {
  const x = keep(rnd([b, k], 5));
  const w = keep(rnd([k, n], 6));
  const bias = keep(rnd([n], 7));
  const dy = keep(rnd([b, n], 8));
  const flops = 2 * b * k * n;
  const cases = [
    {
      model,
      op: `${layer} forward`,
      kernel: '_FusedMatMul',
      shape: `${b}x${k} * ${k}x${n}`,
      flops,
      run: () => tf.fused.matMul({ a: x, b: w, bias, activation: 'relu' }),
    },
  ];
  if (dx) cases.push({ model, op: `${layer} dx`, kernel: 'BatchMatMul', shape: `${b}x${n} * (${k}x${n})^T`, flops, run: () => tf.matMul(dy, w, false, true) });
  cases.push({ model, op: `${layer} dW`, kernel: 'BatchMatMul', shape: `(${b}x${k})^T * ${b}x${n}`, flops, run: () => tf.matMul(x, dy, true, false) });
  return cases;
}

const B = 64;
const cases = [
  ...convCases('teacher CNN', 'conv1', [B, 28, 28, 1], 32, { dx: false }),
  ...convCases('teacher CNN', 'conv2', [B, 14, 14, 32], 64),
  ...denseCases('teacher CNN', 'dense1', B, 7 * 7 * 64, 128),
  ...denseCases('teacher CNN', 'logits', B, 128, 10),
  ...convCases('student CNN', 'conv1', [B, 28, 28, 1], 8, { dx: false }),
  ...convCases('student CNN', 'conv2', [B, 14, 14, 8], 16),
  ...denseCases('student CNN', 'dense1', B, 7 * 7 * 16, 32),
  ...denseCases('MLP student', 'hidden', B, 784, 64, { dx: false }),
  ...denseCases('MLP student', 'pool', B, 64, 32),
];
for (const n of quick ? [256, 512] : [256, 512, 768, 1024]) {
  const a = keep(rnd([n, n], 9));
  const b = keep(rnd([n, n], 10));
  cases.push({ model: 'square', op: `matmul ${n}`, kernel: 'BatchMatMul', shape: `${n}x${n} * ${n}x${n}`, flops: 2 * n * n * n, run: () => tf.matMul(a, b) });
}

function cnn(c1, c2, d) {
  const he = (seed) => tfl.initializers.heNormal({ seed });
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: c1, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: he(1) }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({ filters: c2, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: he(2) }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: d, activation: 'relu', kernelInitializer: he(3) }),
      tfl.layers.dense({ units: 10, kernelInitializer: tfl.initializers.glorotUniform({ seed: 4 }) }),
    ],
  });
}
function mlp(h1, h2) {
  const he = (seed) => tfl.initializers.heNormal({ seed });
  return tfl.sequential({
    layers: [
      tfl.layers.flatten({ inputShape: [28, 28, 1] }),
      tfl.layers.dense({ units: h1, activation: 'relu', kernelInitializer: he(1) }),
      tfl.layers.dense({ units: h2, activation: 'relu', kernelInitializer: he(2) }),
      tfl.layers.dense({ units: 10, kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) }),
    ],
  });
}
const steps = [
  ['teacher CNN', () => cnn(32, 64, 128)],
  ['student CNN', () => cnn(8, 16, 32)],
  ['MLP student', () => mlp(64, 32)],
].map(([model, make]) => {
  const m = make();
  const x = keep(rnd([B, 28, 28, 1], 11));
  const y = keep(tf.oneHot(tf.randomUniform([B], 0, 10, 'int32', 12), 10));
  const opt = tf.train.sgd(0.01);
  return {
    model,
    op: 'SGD step (fwd + bwd + update)',
    kernel: 'all',
    shape: `batch ${B}`,
    flops: 0,
    run: () => opt.minimize(() => tf.losses.softmaxCrossEntropy(y, m.apply(x)), true),
  };
});

const rows = [];
for (const c of [...cases, ...steps]) {
  const t = ab(c.run);
  const row = {
    model: c.model,
    op: c.op,
    kernel: c.kernel,
    shape: c.shape,
    mflop: c.flops / 1e6,
    nativeMs: t.native,
    wasmMs: t.wasm,
    nativeGflops: c.flops ? c.flops / t.native / 1e6 : null,
    wasmGflops: c.flops ? c.flops / t.wasm / 1e6 : null,
    speedup: t.wasm / t.native,
    nativeRuns: t.nativeRuns,
    wasmRuns: t.wasmRuns,
  };
  rows.push(row);
  console.log(
    `  ${`${row.model} ${row.op}`.padEnd(34)} native ${row.nativeMs.toFixed(3).padStart(8)} ms  wasm ${row.wasmMs.toFixed(3).padStart(8)} ms  x${row.speedup.toFixed(2)}`,
  );
}

/** One-core sgemm peak of the addon: 1024^3 on a plain ArrayBuffer, no tfjs in between. */
function peak(n = 1024) {
  const addon = require(report.addonPath);
  const heap = new ArrayBuffer(4 * 3 * n * n);
  const f = new Float32Array(heap);
  for (let i = 0; i < 2 * n * n; i++) f[i] = Math.sin(i);
  const A = Int32Array.of(0);
  const Bo = Int32Array.of(n * n);
  addon.gemm(heap, false, false, n, n, n, A, Bo, 2 * n * n);
  const ts = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    addon.gemm(heap, false, false, n, n, n, A, Bo, 2 * n * n);
    ts.push(performance.now() - t0);
  }
  const ms = median(ts);
  return { n, ms, gflops: (2 * n ** 3) / ms / 1e6, best: (2 * n ** 3) / Math.min(...ts) / 1e6 };
}
const sgemm = peak();
const loadAfter = uptime();

const fmt = (v, d = 2) => (v == null ? '' : v.toFixed(d));
const lines = [
  `| model | op | kernel | shape | MFLOP | native ms | wasm ms | native GFLOPS | wasm GFLOPS | speed-up |`,
  '|---|---|---|---|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.model} | ${r.op} | ${r.kernel} | ${r.shape} | ${r.mflop ? fmt(r.mflop, 1) : ''} | ${fmt(r.nativeMs, 3)} | ${fmt(r.wasmMs, 3)} | ${fmt(r.nativeGflops, 1)} | ${fmt(r.wasmGflops, 1)} | ${fmt(r.speedup)}x |`,
  ),
];
const head = [
  `${report.description}; wasm SIMD ${report.wasm.simd}, ${report.wasm.threads} thread; ${cpus()[0]?.model ?? 'cpu'} (${cpus().length} cores)`,
  `one-core sgemm peak (addon, ${sgemm.n}^3, median of ${reps}): ${sgemm.gflops.toFixed(1)} GFLOPS (best ${sgemm.best.toFixed(1)})`,
  `medians of ${reps} interleaved runs (A = native, B = kd's patched wasm), batch ${B}`,
  `uptime before: ${loadBefore}`,
  `uptime after:  ${loadAfter}`,
];
console.log(`\n${head.join('\n')}\n\n${lines.join('\n')}`);
const result = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: cpus()[0]?.model,
  cores: cpus().length,
  reps,
  native: { description: report.description, blas: report.blas, coretype: report.coretype ?? null },
  wasm: { simd: report.wasm.simd, threads: report.wasm.threads },
  sgemmPeak: sgemm,
  uptimeBefore: loadBefore,
  uptimeAfter: loadAfter,
  rows,
};
writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
writeFileSync(out.replace(/\.json$/, '.md'), `${head.map((l) => `${l}  `).join('\n')}\n\n${lines.join('\n')}\n`);
console.log(`\nwrote ${out}`);
