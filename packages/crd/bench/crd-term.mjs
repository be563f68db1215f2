// Benchmark of the CRD term alone (embedding heads + scores + NCE loss + gradients of the heads +
// bank update; no student or teacher network) on the tfjs cpu backend.
//
//   pnpm --filter @kd/crd bench                      # builds, then runs the default (short) grid
//   node bench/crd-term.mjs --reps 5 --k 4096,16384 --variants gather,dense,shared --out bench/results.json
//
// Defaults: B = 64, d = 128, N = 60000, feature size 256 per side, K in {4096, 16384}, variants
// reference/gather (the reference computation) and shared (the named variant: one set of K rows
// per batch); add `--variants gather,dense,shared` for reference/dense (same values as gather, one
// [B, N] matmul).
// Reports the median step time over
// --reps timed steps after one untimed warm-up step, the time of the JS negative sampling alone,
// and the peak tf.memory().numBytes of one profiled step (absolute, and above the banks + heads).
// Not a test: numbers depend on the machine.
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers the gradients
import { SeededRandom } from '@kd/core';
import { writeFileSync } from 'node:fs';
import { CrdCritic, NegativeSampler } from '../dist/index.js';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const B = Number(args.batch ?? 64);
const D = Number(args.dim ?? 128);
const N = Number(args.n ?? 60000);
const IN = Number(args.features ?? 256);
const REPS = Number(args.reps ?? 3);
const KS = String(args.k ?? '4096,16384').split(',').map(Number);
const VARIANTS = String(args.variants ?? 'gather,shared').split(',');
const OUT = args.out ?? new URL('./results.json', import.meta.url).pathname;

await tf.setBackend('cpu');
const labels = Int32Array.from({ length: N }, (_, i) => i % 10);

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function run(k, variant) {
  const random = new SeededRandom(1);
  const critic = new CrdCritic({
    studentDim: IN,
    teacherDim: IN,
    dataSize: N,
    featureDim: D,
    scoring: variant === 'dense' ? 'dense' : 'gather',
    seed: 7,
  });
  const sampler = new NegativeSampler({ dataSize: N, negatives: k, labels });
  const fs = tf.randomNormal([B, IN], 0, 1, 'float32', 1);
  const ft = tf.randomNormal([B, IN], 0, 1, 'float32', 2);
  const resident = tf.memory().numBytes;
  const sampleTimes = [];
  const step = () => {
    const index = random.permutation(N).subarray(0, B);
    const t0 = performance.now();
    const sample = variant === 'shared' ? sampler.sampleShared(index, random) : sampler.sample(index, random);
    sampleTimes.push(performance.now() - t0);
    tf.tidy(() => {
      let emb;
      const { value, grads } = tf.variableGrads(() => {
        const r = critic.loss(fs, ft, sample);
        emb = [tf.keep(r.studentEmbedding), tf.keep(r.teacherEmbedding)];
        return r.loss;
      }, critic.variables);
      value.dataSync();
      for (const g of Object.values(grads)) g.dataSync();
      critic.update(sample.index, emb[0], emb[1]);
      tf.dispose(emb);
    });
  };
  const profile = await tf.profile(() => step()); // warm-up, also sets Z
  const before = tf.memory().numTensors;
  const times = [];
  for (let r = 0; r < REPS; r++) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  if (tf.memory().numTensors !== before) throw new Error(`leak: ${tf.memory().numTensors - before} tensors`);
  const result = {
    variant: variant === 'shared' ? 'shared' : `reference/${variant}`,
    K: k,
    stepMsMedian: median(times),
    stepMs: times,
    samplingMsMedian: median(sampleTimes.slice(1)),
    peakBytes: profile.peakBytes,
    peakAboveResidentBytes: profile.peakBytes - resident,
    residentBytes: resident,
    bankBytes: critic.bank.bytes,
  };
  critic.dispose();
  tf.dispose([fs, ft]);
  return result;
}

const results = [];
for (const k of KS) {
  for (const v of VARIANTS) {
    const r = await run(k, v);
    results.push(r);
    console.error(`done ${r.variant} K=${k}: ${r.stepMsMedian.toFixed(0)} ms`);
  }
}
const mb = (x) => (x / 2 ** 20).toFixed(1);
console.log(`CRD term alone, backend ${tf.getBackend()}, B=${B} d=${D} N=${N} features=${IN}, median of ${REPS} steps (node ${process.version})`);
console.log('| variant | K | step ms (median) | sampling ms | peak MiB | peak above banks+heads MiB |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const r of results) {
  console.log(
    `| ${r.variant} | ${r.K} | ${r.stepMsMedian.toFixed(0)} | ${r.samplingMsMedian.toFixed(1)} | ${mb(r.peakBytes)} | ${mb(r.peakAboveResidentBytes)} |`,
  );
}
writeFileSync(
  OUT,
  `${JSON.stringify({ backend: tf.getBackend(), B, d: D, N, features: IN, reps: REPS, node: process.version, date: new Date().toISOString(), results }, null, 1)}\n`,
);
console.log(`wrote ${OUT}`);
