import { Distiller, evaluateModel, hardLabel, type LabeledData, SeededRandom, softTargets } from '@kd/core';
import { loadFashionMnist } from '@kd/data/node';
import {
  type CombineOptions,
  confusableSubsets,
  coverageCounts,
  type Specialist,
  SpecialistEnsemble,
  specialistModel,
  trainSpecialist,
} from '@kd/specialists';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/** Options of {@link run}. */
export interface RunOptions {
  /** Training examples drawn (seeded) from the 60 000. */
  readonly train: number;
  /** Test examples drawn (seeded) from the 10 000. */
  readonly test: number;
  /** Hidden units of the generalist / student MLP (784-h-10). */
  readonly hidden: number;
  readonly generalistEpochs: number;
  readonly specialistEpochs: number;
  readonly studentEpochs: number;
  /** K-means cluster counts; several give overlapping subsets (the Table 4 split). */
  readonly clusters: readonly number[];
  /** Largest subset kept (a specialist for most classes is no specialist). */
  readonly maxSize: number;
  /** Combination settings (default: the paper's gradient descent, 100 steps). */
  readonly combine: CombineOptions;
  readonly temperature: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly directory?: string;
  readonly verbose: boolean;
}

export interface CoverageRow {
  readonly covering: number;
  readonly examples: number;
  readonly generalistCorrect: number;
  readonly ensembleCorrect: number;
}

export interface RunResult {
  readonly classNames: readonly string[];
  readonly subsets: number[][];
  readonly confusionSubsets: number[][];
  readonly rows: CoverageRow[];
  readonly generalistAccuracy: number;
  readonly ensembleAccuracy: number;
  readonly studentAccuracy: number;
  readonly table: string;
  readonly seconds: Record<string, number>;
}

/** A seeded subset of `count` examples (x stays `[n, 28, 28, 1]`). */
function pick(data: LabeledData, count: number, seed: number): LabeledData {
  const n = data.x.shape[0]!;
  const order = new SeededRandom(seed).permutation(n).slice(0, Math.min(count, n));
  return tf.tidy(() => {
    const index = tf.tensor1d(order, 'int32');
    return { x: tf.gather(data.x, index), y: tf.gather(data.y, index) as tf.Tensor1D };
  });
}

/** 784-h-10 MLP on [28, 28, 1] images; the head is the Dense logits layer the specialists copy. */
export function mlp(hidden: number, seed: number, name: string): tfl.LayersModel {
  const model = tfl.sequential({ name });
  model.add(tfl.layers.flatten({ inputShape: [28, 28, 1], name: `${name}_flatten` }));
  model.add(
    tfl.layers.dense({
      units: hidden,
      activation: 'relu',
      name: `${name}_hidden`,
      kernelInitializer: tfl.initializers.glorotUniform({ seed }),
    }),
  );
  model.add(tfl.layers.dense({ units: 10, name: `${name}_logits`, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }));
  return model;
}

async function fitHard(model: tfl.LayersModel, data: LabeledData, epochs: number, options: RunOptions): Promise<void> {
  const optimizer = tf.train.adam(1e-3);
  const distiller = new Distiller({ student: model, optimizer, seed: options.seed }).use(hardLabel());
  await distiller.fit(data, { epochs, batchSize: options.batchSize });
  distiller.dispose();
  optimizer.dispose();
}

/** Predicted classes of a model or teacher on `x`, in batches. */
function predictClasses(predict: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, batch = 500): Int32Array {
  const n = x.shape[0]!;
  const out = new Int32Array(n);
  for (let start = 0; start < n; start += batch) {
    const size = Math.min(batch, n - start);
    const classes = tf.tidy(() => tf.argMax(predict(tf.slice(x, start, size)), 1));
    out.set(classes.dataSync(), start);
    classes.dispose();
  }
  return out;
}

/** The paper's Table 4 form: accuracy by how many specialists cover the true class. */
export function coverageTable(rows: readonly CoverageRow[]): string {
  const lines = [
    '| # specialists covering | # test examples | generalist acc | + specialists acc | relative change |',
    '|---:|---:|---:|---:|---:|',
  ];
  const total = rows.reduce(
    (t, r) => ({
      covering: -1,
      examples: t.examples + r.examples,
      generalistCorrect: t.generalistCorrect + r.generalistCorrect,
      ensembleCorrect: t.ensembleCorrect + r.ensembleCorrect,
    }),
    { covering: -1, examples: 0, generalistCorrect: 0, ensembleCorrect: 0 },
  );
  for (const r of [...rows, total]) {
    const g = r.generalistCorrect / Math.max(1, r.examples);
    const e = r.ensembleCorrect / Math.max(1, r.examples);
    const rel = r.generalistCorrect > 0 ? ((r.ensembleCorrect - r.generalistCorrect) / r.generalistCorrect) * 100 : 0;
    lines.push(
      `| ${r.covering < 0 ? 'all' : r.covering} | ${r.examples} | ${(g * 100).toFixed(2)} % | ${(e * 100).toFixed(2)} % | ${rel >= 0 ? '+' : ''}${rel.toFixed(2)} % |`,
    );
  }
  return lines.join('\n');
}

/**
 * Generalist + specialists on Fashion-MNIST: trains the generalist, finds confusable subsets from
 * its predictions on the training set, builds and trains one specialist per subset, compares the
 * generalist with the KL-combined ensemble on the test set split by coverage, and distils the
 * ensemble into a fresh student of the generalist's size.
 */
export async function run(options: RunOptions): Promise<RunResult> {
  const log = (...args: unknown[]) => {
    if (options.verbose) console.log(...args);
  };
  const seconds: Record<string, number> = {};
  let t0 = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    seconds[name] = (now - t0) / 1000;
    t0 = now;
  };
  const full = await loadFashionMnist(options.directory ? { directory: options.directory } : {});
  const train = pick(full.train, options.train, options.seed);
  const test = pick(full.test, options.test, options.seed + 1);
  tf.dispose([full.train.x, full.train.y, full.test.x, full.test.y]);
  const classNames = full.classNames;
  log(`Fashion-MNIST: ${train.x.shape[0]} training and ${test.x.shape[0]} test examples`);
  lap('load');

  // 1. Generalist.
  const generalist = mlp(options.hidden, options.seed, 'generalist');
  await fitHard(generalist, train, options.generalistEpochs, options);
  const generalistEval = await evaluateModel(generalist, test);
  log(
    `generalist 784-${options.hidden}-10, ${options.generalistEpochs} epochs: test accuracy ${(generalistEval.accuracy * 100).toFixed(2)} %`,
  );
  lap('generalist');

  // 2. Confusable subsets from the generalist's predicted probabilities (no labels).
  const probs = tf.tidy(() => tf.softmax(generalist.predict(train.x) as tf.Tensor2D)) as tf.Tensor2D;
  const subsets = confusableSubsets(probs, {
    clusters: options.clusters,
    method: 'kmeans',
    seed: options.seed,
    minSize: 2,
    maxSize: options.maxSize,
  });
  const confusionSubsets = confusableSubsets(probs, {
    clusters: options.clusters,
    method: 'confusion',
    labels: train.y,
    seed: options.seed,
    minSize: 2,
    maxSize: options.maxSize,
  });
  probs.dispose();
  const names = (s: readonly number[]) => `{${s.map((k) => classNames[k]).join(', ')}}`;
  log(`subsets (covariance K-means, k = ${options.clusters.join(', ')}):`);
  for (const s of subsets) log(`  ${names(s)}`);
  log('subsets (confusion-matrix K-means, needs labels):');
  for (const s of confusionSubsets) log(`  ${names(s)}`);
  lap('subsets');

  // 3. Specialists: copies of the generalist with a subset + dustbin head, half/half data.
  const specialists: Specialist[] = [];
  for (const [i, subset] of subsets.entries()) {
    const model = specialistModel(generalist, subset, { name: `specialist_${i}` });
    const optimizer = tf.train.adam(1e-3);
    const { sample } = await trainSpecialist(model, train, subset, {
      optimizer,
      epochs: options.specialistEpochs,
      batchSize: options.batchSize,
      seed: options.seed + 10 + i,
    });
    optimizer.dispose();
    specialists.push({ model, classes: subset });
    log(
      `  specialist ${i} ${names(subset)}: ${sample.indices.length} examples/epoch, pi_S = ${sample.subsetPrior.toFixed(3)}, dustbin += ${sample.dustbinShift.toFixed(3)}`,
    );
  }
  lap('specialists');

  // 4. Generalist vs generalist + specialists, by how many specialists cover the true class.
  const ensemble = new SpecialistEnsemble(generalist, specialists, options.combine);
  const labels = test.y.dataSync();
  const gPred = predictClasses((x) => generalist.predict(x) as tf.Tensor, test.x);
  const ePred = predictClasses((x) => ensemble.predict(x).logits, test.x);
  const coverage = coverageCounts(specialists, 10);
  const maxCover = Math.max(0, ...coverage);
  const rows: CoverageRow[] = Array.from({ length: maxCover + 1 }, (_, c) => ({
    covering: c,
    examples: 0,
    generalistCorrect: 0,
    ensembleCorrect: 0,
  }));
  const mutable = rows as { covering: number; examples: number; generalistCorrect: number; ensembleCorrect: number }[];
  labels.forEach((label, i) => {
    const row = mutable[coverage[label]!]!;
    row.examples++;
    if (gPred[i] === label) row.generalistCorrect++;
    if (ePred[i] === label) row.ensembleCorrect++;
  });
  const shown = rows.filter((r) => r.examples > 0);
  const n = labels.length;
  const generalistAccuracy = shown.reduce((s, r) => s + r.generalistCorrect, 0) / n;
  const ensembleAccuracy = shown.reduce((s, r) => s + r.ensembleCorrect, 0) / n;
  const table = coverageTable(shown);
  log(`\n${ensemble.description}\n${table}`);
  lap('combine');

  // 5. Distil the ensemble back into one student of the generalist's size.
  const student = mlp(options.hidden, options.seed + 100, 'student');
  const optimizer = tf.train.adam(1e-3);
  const distiller = new Distiller({ teacher: ensemble, student, optimizer, seed: options.seed })
    .use(hardLabel({ weight: 0.1 }))
    .use(softTargets({ temperature: options.temperature, weight: 0.9 }));
  log(`\nstudent: ${distiller.describe()}`);
  await distiller.fit(train, { epochs: options.studentEpochs, batchSize: options.batchSize });
  distiller.dispose();
  optimizer.dispose();
  const studentAccuracy = (await evaluateModel(student, test)).accuracy;
  lap('student');
  log(
    `test accuracy: generalist ${(generalistAccuracy * 100).toFixed(2)} %, generalist + ${specialists.length} specialists ${(ensembleAccuracy * 100).toFixed(2)} %, ` +
      `distilled student (784-${options.hidden}-10, ${options.studentEpochs} epochs) ${(studentAccuracy * 100).toFixed(2)} %`,
  );
  log(
    `seconds: ${Object.entries(seconds)
      .map(([k, v]) => `${k} ${v.toFixed(1)}`)
      .join(', ')}`,
  );

  tf.dispose([train.x, train.y, test.x, test.y]);
  for (const s of specialists) (s.model as tfl.LayersModel).dispose();
  generalist.dispose();
  student.dispose();
  return {
    classNames,
    subsets,
    confusionSubsets,
    rows: shown,
    generalistAccuracy,
    ensembleAccuracy,
    studentAccuracy,
    table,
    seconds,
  };
}
