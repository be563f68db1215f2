import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { renderSvg } from '@kd/cli';
import { Distiller, ensembleTeacher, evaluateModel, hardLabel, adam as kdAdam, type LabeledData, softTargets } from '@kd/core';
import { atomicWriteFile } from '@kd/core/node';
import { crd, crdEnsemble } from '@kd/crd';
import { FASHION_MNIST_CLASSES, subset, trainValidationSplit } from '@kd/data';
import { mlp } from '@kd/models';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { fashion, load, meanStd, Results, type Row, row, SEEDS, type SeedResult, type Size, table, writeReport } from './common';
import type { RunOptions } from './experiment';

// ---------------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------------

/** The CRD settings every CRD arm of these experiments uses (RepDistiller's CRD: `1 ce + 0.8 crd`). */
export interface CrdArmConfig {
  /** Negatives K per anchor (reference class-aware sampling); must be below the transfer set's size. */
  readonly negatives: number;
  /** Embedding size of the CRD heads. */
  readonly featureDim: number;
  /** Weight of the contrastive term (total, over the teachers for CRD-EN). */
  readonly crdWeight: number;
  /** Temperature of the KD arms (`0.1 ce + 0.9 kd(T)`, RepDistiller's KD). */
  readonly temperature: number;
}

type Store = ReturnType<Results['checkpoint']>;

/** Adam 1e-3 optimizers of one seed, disposed together. */
class Optimizers {
  private readonly made: tf.Optimizer[] = [];
  next(): tf.Optimizer {
    const o = kdAdam({ learningRate: 1e-3 });
    this.made.push(o);
    return o;
  }
  dispose(): void {
    for (const o of this.made) o.dispose();
  }
}

/** One seeded training run of a Distiller, resumable through the arm's checkpoint store. */
function fitWith(distiller: Distiller, data: LabeledData, epochs: number, batchSize: number) {
  return (store: Store) => distiller.fit(data, { epochs, batchSize, checkpoint: store, resume: true });
}

/** Logits of `model` on `x`, one row per example, computed in batches of 1000. */
export function logitsOf(model: tfl.LayersModel, x: tf.Tensor): number[][] {
  const n = x.shape[0]!;
  const rows: number[][] = [];
  for (let start = 0; start < n; start += 1000) {
    const part = tf.tidy(() => model.predict(tf.slice(x, start, Math.min(1000, n - start))) as tf.Tensor2D);
    rows.push(...(part.arraySync() as number[][]));
    part.dispose();
  }
  return rows;
}

/**
 * The class-correlation matrix of logits: entry (i, j) is the Pearson correlation over the
 * examples of logit column i with column j (ones on the diagonal; a constant column correlates
 * with nothing). The CRD paper's Fig. 3 compares the teacher's matrix with the student's.
 */
export function classCorrelation(logits: readonly (readonly number[])[]): number[][] {
  const n = logits.length;
  const k = logits[0]?.length ?? 0;
  const mean = new Array<number>(k).fill(0);
  for (const r of logits) for (let c = 0; c < k; c++) mean[c]! += r[c]! / n;
  const cov = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (const r of logits) {
    for (let i = 0; i < k; i++) {
      const di = r[i]! - mean[i]!;
      for (let j = i; j < k; j++) cov[i]![j]! += di * (r[j]! - mean[j]!);
    }
  }
  return Array.from({ length: k }, (_, i) =>
    Array.from({ length: k }, (_, j) => {
      if (i === j) return 1;
      const [a, b] = i < j ? [i, j] : [j, i];
      const scale = Math.sqrt(cov[a]![a]! * cov[b]![b]!);
      return scale > 0 ? Math.max(-1, Math.min(1, cov[a]![b]! / scale)) : 0;
    }),
  );
}

/** Teacher − student class correlation, entry by entry, and its mean |Δ| over the off-diagonal entries. */
export function correlationDifference(
  teacherLogits: readonly (readonly number[])[],
  studentLogits: readonly (readonly number[])[],
): { difference: number[][]; meanAbsolute: number } {
  const t = classCorrelation(teacherLogits);
  const s = classCorrelation(studentLogits);
  const k = t.length;
  let sum = 0;
  const difference = t.map((r, i) =>
    r.map((v, j) => {
      const d = v - s[i]![j]!;
      if (i !== j) sum += Math.abs(d);
      return d;
    }),
  );
  return { difference, meanAbsolute: k > 1 ? sum / (k * (k - 1)) : 0 };
}

// ---------------------------------------------------------------------------------------------
// Experiment 5a: CRD-EN (distilling an ensemble) and experiment 6 (the correlation figure)
// ---------------------------------------------------------------------------------------------

/** The sizes of the CRD-EN experiment (Tian et al. 2020, distillation from an ensemble). */
export interface CrdEnsembleConfig extends CrdArmConfig {
  /** Examples the teachers train on (drawn per seed from Fashion-MNIST's 60 000). */
  readonly trainSize: number;
  /** Held-out examples (from the same draw) that pick the best single teacher. */
  readonly validationSize: number;
  readonly testSize: number;
  /** Examples the students train on: a seeded subset of the teachers' training set. */
  readonly transferSize: number;
  /** Teachers in the ensemble (same architecture, different initialisation and data order). */
  readonly teachers: number;
  readonly teacherHidden: readonly number[];
  /** Dropout after each hidden layer of the teachers (seeded). */
  readonly teacherDropout: number;
  readonly studentHidden: readonly number[];
  readonly teacherEpochs: number;
  readonly studentEpochs: number;
  readonly batchSize: number;
}

/** `full`: 4 MLP teachers 784-512-256-10 on 10 000 examples, MLP 784-64-32-10 students on 2 000; `small`: seconds. */
export const CRD_ENSEMBLE_SIZES: Readonly<Record<Size, CrdEnsembleConfig>> = {
  full: {
    trainSize: 10_000,
    validationSize: 2_000,
    testSize: 10_000,
    transferSize: 2_000,
    teachers: 4,
    teacherHidden: [512, 256],
    teacherDropout: 0.3,
    studentHidden: [64, 32],
    teacherEpochs: 8,
    studentEpochs: 30,
    batchSize: 64,
    temperature: 4,
    negatives: 1024,
    featureDim: 64,
    crdWeight: 0.8,
  },
  small: {
    trainSize: 500,
    validationSize: 200,
    testSize: 300,
    transferSize: 250,
    teachers: 2,
    teacherHidden: [48],
    teacherDropout: 0.3,
    studentHidden: [32],
    teacherEpochs: 3,
    studentEpochs: 10,
    batchSize: 50,
    temperature: 4,
    negatives: 64,
    featureDim: 16,
    crdWeight: 0.8,
  },
};

/** The student arms of the CRD-EN experiment, in the table's order. */
export const ENSEMBLE_ARMS = ['scratch', 'kdBest', 'kdEnsemble', 'crdBest', 'crdEnsemble', 'crdEnsembleSum'] as const;
export type EnsembleArm = (typeof ENSEMBLE_ARMS)[number];

/** What one seed of the CRD-EN study hands to its observers (before anything is disposed). */
export interface EnsembleSeed {
  readonly seed: number;
  /** Index of the teacher with the best validation accuracy. */
  readonly best: number;
  readonly bestTeacher: tfl.LayersModel;
  readonly students: Readonly<Record<EnsembleArm, tfl.LayersModel>>;
  readonly test: LabeledData;
}

interface EnsembleStudy {
  readonly config: CrdEnsembleConfig;
  readonly teacherRows: readonly Row[];
  readonly studentRows: readonly Row[];
  readonly bestTeachers: readonly number[];
  readonly seconds: number;
  readonly load: string;
}

/**
 * Trains (or restores from `dir`) the teachers and the six students of every seed and calls
 * `observe` with each seed's models. Shared by {@link runCrdEnsemble} and {@link runCorrelation}.
 */
async function ensembleStudy(size: Size, dir: string, options: RunOptions, observe?: (seed: EnsembleSeed) => void): Promise<EnsembleStudy> {
  const config = CRD_ENSEMBLE_SIZES[size];
  const log = options.log ?? (() => {});
  const results = new Results(dir, { experiment: 'crd-ensemble', size, config });
  const started = performance.now();
  const before = load();
  const teacherAcc: { single: SeedResult[]; best: SeedResult[]; ensemble: SeedResult[] } = { single: [], best: [], ensemble: [] };
  const arms = Object.fromEntries(ENSEMBLE_ARMS.map((a) => [a, [] as SeedResult[]])) as Record<EnsembleArm, SeedResult[]>;
  const bestTeachers: number[] = [];
  const b = config.batchSize;
  for (const seed of SEEDS) {
    const drawn = await fashion(config.trainSize + config.validationSize, config.testSize, seed, options.directory);
    const { train, validation } = trainValidationSplit(drawn.train, {
      fraction: config.validationSize / (config.trainSize + config.validationSize),
      seed,
    });
    const test = drawn.test;
    const transfer = subset(train, config.transferSize, seed + 7);
    const optimizers = new Optimizers();
    const distillers: Distiller[] = [];
    const teachers: tfl.LayersModel[] = [];
    const validationAcc: number[] = [];
    let singleSum = 0;
    let singleSeconds = 0;
    for (let m = 0; m < config.teachers; m++) {
      const teacher = mlp({
        name: `teacher${m}`,
        hidden: config.teacherHidden,
        dropout: config.teacherDropout,
        seed: seed * 1000 + 100 * m,
      });
      // Different initial weights and data order per member.
      const run = new Distiller({ student: teacher, optimizer: optimizers.next(), seed: seed * 10 + m }).use(hardLabel());
      distillers.push(run);
      const r = await results.arm(`teacher${m}-${seed}`, teacher, test, fitWith(run, train, config.teacherEpochs, b));
      singleSum += r.accuracy;
      singleSeconds += r.seconds;
      validationAcc.push((await evaluateModel(teacher, validation)).accuracy);
      teachers.push(teacher);
    }
    const best = validationAcc.indexOf(Math.max(...validationAcc));
    bestTeachers.push(best);
    const bestTeacher = teachers[best]!;
    teacherAcc.single.push({ accuracy: singleSum / config.teachers, seconds: singleSeconds });
    teacherAcc.best.push({ accuracy: (await evaluateModel(bestTeacher, test)).accuracy, seconds: 0 });
    const ensemble = () => ensembleTeacher(teachers);
    teacherAcc.ensemble.push({ accuracy: (await evaluateModel(ensemble(), test)).accuracy, seconds: 0 });
    log(
      `seed ${seed}: teachers ${validationAcc.map((a) => (100 * a).toFixed(2)).join(' / ')} % on validation, best #${best}; ensemble ${(100 * teacherAcc.ensemble.at(-1)!.accuracy).toFixed(2)} % on test`,
    );
    const crdOptions = { negatives: config.negatives, featureDim: config.featureDim };
    const makeDistiller = (arm: EnsembleArm, student: tfl.LayersModel, optimizer: tf.Optimizer): Distiller => {
      const pool = `${student.name}_pool`;
      switch (arm) {
        case 'scratch':
          return new Distiller({ student, optimizer, seed }).use(hardLabel());
        case 'kdBest':
        case 'kdEnsemble':
          return new Distiller({ student, teacher: arm === 'kdBest' ? bestTeacher : ensemble(), optimizer, seed })
            .use(hardLabel({ weight: 0.1 }))
            .use(softTargets({ temperature: config.temperature, weight: 0.9 }));
        case 'crdBest':
          return new Distiller({ student, teacher: bestTeacher, optimizer, seed })
            .use(hardLabel())
            .use(crd({ student: pool, teacher: `teacher${best}_pool`, weight: config.crdWeight, ...crdOptions }));
        case 'crdEnsemble':
        case 'crdEnsembleSum':
          // One critic per teacher; `crdEnsemble` weights each crdWeight / M so the contrastive weight in
          // total is single CRD's, `crdEnsembleSum` each crdWeight (the paper's sum of the terms).
          return new Distiller({ student, teacher: ensemble(), optimizer, seed }).use(hardLabel()).use(
            crdEnsemble(
              teachers.map((_, m) => ({ student: pool, teacher: `${m}/teacher${m}_pool` })),
              { weight: arm === 'crdEnsemble' ? config.crdWeight / config.teachers : config.crdWeight, ...crdOptions },
            ),
          );
      }
    };
    const students = {} as Record<EnsembleArm, tfl.LayersModel>;
    for (const arm of ENSEMBLE_ARMS) {
      // Every student arm of a seed starts from the same initial weights.
      const student = mlp({ name: `student_${arm}`, hidden: config.studentHidden, seed: seed * 1000 + 500 });
      const distiller = makeDistiller(arm, student, optimizers.next());
      distillers.push(distiller);
      arms[arm].push(await results.arm(`${arm}-${seed}`, student, test, fitWith(distiller, transfer, config.studentEpochs, b)));
      log(`seed ${seed}: ${arm} ${(100 * arms[arm].at(-1)!.accuracy).toFixed(2)} %`);
      students[arm] = student;
    }
    observe?.({ seed, best, bestTeacher, students, test });
    for (const d of distillers) d.dispose();
    for (const model of [...teachers, ...Object.values(students)]) model.dispose();
    optimizers.dispose();
    tf.dispose([drawn.train.x, drawn.train.y, train.x, train.y, validation.x, validation.y, test.x, test.y, transfer.x, transfer.y]);
  }
  const t = `784-${config.teacherHidden.join('-')}-10`;
  const m = config.teachers;
  const teacherRows = [
    row(`teacher ${t}, one of ${m} (mean of the ${m})`, teacherAcc.single),
    row('best single teacher (by validation accuracy)', teacherAcc.best),
    row(`ensemble of the ${m} teachers (mean of probabilities)`, teacherAcc.ensemble),
  ];
  const label: Record<EnsembleArm, string> = {
    scratch: 'scratch (hard labels)',
    kdBest: `KD from the best teacher (T = ${config.temperature})`,
    kdEnsemble: `KD from the ensemble (T = ${config.temperature})`,
    crdBest: `CRD from the best teacher (1 ce + ${config.crdWeight} crd)`,
    crdEnsemble: `CRD-EN from the ${m} teachers (1 ce + ${m} x ${+(config.crdWeight / m).toFixed(3)} crd)`,
    crdEnsembleSum: `CRD-EN, the terms summed (1 ce + ${m} x ${config.crdWeight} crd)`,
  };
  const s = `784-${config.studentHidden.join('-')}-10`;
  const studentRows = ENSEMBLE_ARMS.map((a) => row(`student ${s}, ${label[a]}`, arms[a]));
  return {
    config,
    teacherRows,
    studentRows,
    bestTeachers,
    seconds: (performance.now() - started) / 1000,
    load: before,
  };
}

/** What {@link runCrdEnsemble} returns. */
export interface CrdEnsembleResult {
  readonly config: CrdEnsembleConfig;
  readonly rows: readonly Row[];
  readonly bestTeachers: readonly number[];
  readonly table: string;
  readonly seconds: number;
  readonly load: string;
}

/**
 * Experiment 5a (Tian et al. 2020, distillation from an ensemble), per seed: `teachers` MLP
 * teachers (dropout, different seeds) trained on `trainSize` examples, the best of them picked on
 * a held-out validation split; then six MLP students on a `transferSize` subset, all from the same
 * initial weights: scratch, KD from the best teacher, KD from the ensemble (`ensembleTeacher`,
 * mean of probabilities), CRD from the best teacher (`crd`) and CRD-EN (`crdEnsemble`, one critic
 * per teacher, the contrastive weight split evenly so the total matches single CRD) and CRD-EN with
 * the per-teacher terms summed at full weight (the paper's form). Adam 1e-3.
 * Writes `<dir>/crd-ensemble.json` and `.md`; resumable (see {@link Results}).
 */
export async function runCrdEnsemble(size: Size, dir: string, options: RunOptions = {}): Promise<CrdEnsembleResult> {
  const study = await ensembleStudy(size, dir, options);
  const { config } = study;
  const rows = [...study.teacherRows, ...study.studentRows];
  const markdown = `${table(rows, config.testSize)}\n\nSize ${size}: teachers on ${config.trainSize} examples (${config.teacherEpochs} epochs), best picked on ${config.validationSize} held out (picked: #${study.bestTeachers.join(', #')}); students on ${config.transferSize} of them (${config.studentEpochs} epochs), batch ${config.batchSize}, CRD K = ${config.negatives}, d = ${config.featureDim}; seeds ${SEEDS.join(', ')}; ${study.seconds.toFixed(1)} s wall; ${study.load} at the start, ${load()} at the end.`;
  await writeReport(
    dir,
    'crd-ensemble',
    { size, config, seeds: SEEDS, rows, bestTeachers: study.bestTeachers, seconds: study.seconds, load: study.load },
    markdown,
  );
  return { config, rows, bestTeachers: study.bestTeachers, table: markdown, seconds: study.seconds, load: study.load };
}

/** Options of {@link runCorrelation}. */
export interface CorrelationOptions extends RunOptions {
  /**
   * The CRD-EN experiment's results folder whose students the figure analyses (trained there if
   * absent). Default: `crd-ensemble-<size>` beside `dir`, where the command line writes them.
   */
  readonly studentsDir?: string;
}

/** The students of the correlation figure: those of the CRD-EN run that learned from the best single teacher. */
export const CORRELATION_ARMS = ['scratch', 'kdBest', 'crdBest'] as const satisfies readonly EnsembleArm[];

/** What {@link runCorrelation} returns. */
export interface CorrelationResult {
  /** Mean |teacher − student| class correlation per arm, one value per seed. */
  readonly rows: readonly { arm: string; values: readonly number[]; mean: number; std: number }[];
  readonly table: string;
  /** The heatmaps (seed 1), also written to `<dir>/correlation.svg`. */
  readonly svg: string;
  readonly seconds: number;
  readonly load: string;
}

const CORRELATION_LABELS: Record<(typeof CORRELATION_ARMS)[number], string> = {
  scratch: 'student without distillation',
  kdBest: 'KD',
  crdBest: 'CRD',
};

/**
 * Experiment 6 (the CRD paper's Fig. 3): the difference between the best single teacher's and
 * each student's class-correlation matrices of the logits on the test set, for the scratch, KD and
 * CRD students of the CRD-EN experiment (taken from, or trained in, `options.studentsDir`). Writes
 * `<dir>/correlation.json`, `.md` (mean |Δ| per student over the seeds) and `correlation.svg`
 * (heatmaps of seed 1's Δ, vega-lite through `renderSvg`).
 */
export async function runCorrelation(size: Size, dir: string, options: CorrelationOptions = {}): Promise<CorrelationResult> {
  const studentsDir = options.studentsDir ?? join(dirname(dir), `crd-ensemble-${size}`);
  const started = performance.now();
  const before = load();
  const values = Object.fromEntries(CORRELATION_ARMS.map((a) => [a, [] as number[]])) as Record<
    (typeof CORRELATION_ARMS)[number],
    number[]
  >;
  const firstSeed: Partial<Record<(typeof CORRELATION_ARMS)[number], number[][]>> = {};
  await ensembleStudy(size, studentsDir, options, ({ seed, bestTeacher, students, test }) => {
    const teacherLogits = logitsOf(bestTeacher, test.x);
    for (const arm of CORRELATION_ARMS) {
      const d = correlationDifference(teacherLogits, logitsOf(students[arm], test.x));
      values[arm].push(d.meanAbsolute);
      if (seed === SEEDS[0]) firstSeed[arm] = d.difference;
    }
  });
  const rows = CORRELATION_ARMS.map((a) => ({ arm: CORRELATION_LABELS[a], values: values[a], ...meanStd(values[a]) }));
  const svg = (await renderSvg(correlationChart(firstSeed as Record<(typeof CORRELATION_ARMS)[number], number[][]>, rows))).svg;
  mkdirSync(dir, { recursive: true });
  await atomicWriteFile(join(dir, 'correlation.svg'), svg);
  const config = CRD_ENSEMBLE_SIZES[size];
  const seconds = (performance.now() - started) / 1000;
  const markdown = [
    `| student (of the best single teacher) | mean abs. teacher − student class correlation, mean ± std | per seed |`,
    '|---|---:|---|',
    ...rows.map((r) => `| ${r.arm} | ${r.mean.toFixed(4)} ± ${r.std.toFixed(4)} | ${r.values.map((v) => v.toFixed(4)).join(' / ')} |`),
    '',
    `Size ${size}: logits on ${config.testSize} test examples; the students of crd-ensemble (${studentsDir}); seeds ${SEEDS.join(', ')}; ${seconds.toFixed(1)} s wall (training included where the folder had no finished students); ${before} at the start, ${load()} at the end. Heatmaps of seed ${SEEDS[0]}: correlation.svg.`,
  ].join('\n');
  await writeReport(dir, 'correlation', { size, studentsDir, seeds: SEEDS, rows, seconds, load: before }, markdown);
  return { rows, table: markdown, svg, seconds, load: before };
}

/**
 * The vega-lite spec of the correlation figure: one heatmap per student of `teacher − student`
 * class correlation, on one diverging colour scale centred at 0; the header of each gives its
 * mean |Δ| over the seeds.
 */
export function correlationChart(
  differences: Readonly<Record<(typeof CORRELATION_ARMS)[number], number[][]>>,
  rows: readonly { arm: string; mean: number; std: number }[],
): Parameters<typeof renderSvg>[0] {
  const names = FASHION_MNIST_CLASSES.map((n) => n.split('/')[0]!);
  const panels = CORRELATION_ARMS.map((_, i) => `${rows[i]!.arm}: mean |Δ| ${rows[i]!.mean.toFixed(3)} ± ${rows[i]!.std.toFixed(3)}`);
  const values = CORRELATION_ARMS.flatMap((a, p) =>
    differences[a].flatMap((r, i) => r.map((difference, j) => ({ student: panels[p]!, row: names[i]!, column: names[j]!, difference }))),
  );
  const bound = Math.max(1e-6, ...values.map((v) => Math.abs(v.difference)));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: 'Teacher − student class correlation of the logits (Fashion-MNIST test set)',
      subtitle: 'Pearson correlation of the logit columns; 0 = the student matches the teacher (CRD paper, Fig. 3)',
    },
    data: { values },
    facet: { column: { field: 'student', type: 'nominal', sort: panels, title: null } },
    spec: {
      width: { step: 22 },
      height: { step: 22 },
      mark: { type: 'rect' },
      encoding: {
        x: { field: 'column', type: 'ordinal', sort: names, title: 'class', axis: { labelAngle: -45 } },
        y: { field: 'row', type: 'ordinal', sort: names, title: 'class' },
        color: {
          field: 'difference',
          type: 'quantitative',
          title: 'teacher − student',
          scale: { scheme: 'redblue', reverse: true, domain: [-bound, bound], domainMid: 0 },
        },
      },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Experiment 5b: cross-modal CRD
// ---------------------------------------------------------------------------------------------

/** The sizes of the cross-modal experiment (teacher on full images, student on a downsampled view). */
export interface CrossModalConfig extends CrdArmConfig {
  readonly trainSize: number;
  readonly testSize: number;
  /** Paired examples (full image for the teacher, view for the student) the students train on. */
  readonly transferSize: number;
  /** The student's view: the image average-pooled over `pool x pool` blocks (28 / 4 = 7x7). */
  readonly pool: number;
  readonly teacherHidden: readonly number[];
  readonly teacherDropout: number;
  readonly studentHidden: readonly number[];
  readonly teacherEpochs: number;
  readonly studentEpochs: number;
  readonly batchSize: number;
}

/** `full`: an MLP 784-512-256-10 teacher on 10 000 full images, MLP 49-64-32-10 students on 2 000 7x7 views; `small`: seconds. */
export const CROSS_MODAL_SIZES: Readonly<Record<Size, CrossModalConfig>> = {
  full: {
    trainSize: 10_000,
    testSize: 10_000,
    transferSize: 2_000,
    pool: 4,
    teacherHidden: [512, 256],
    teacherDropout: 0.3,
    studentHidden: [64, 32],
    teacherEpochs: 8,
    studentEpochs: 30,
    batchSize: 64,
    temperature: 4,
    negatives: 1024,
    featureDim: 64,
    crdWeight: 0.8,
  },
  small: {
    trainSize: 600,
    testSize: 300,
    transferSize: 300,
    pool: 4,
    teacherHidden: [48],
    teacherDropout: 0.3,
    studentHidden: [32],
    teacherEpochs: 3,
    studentEpochs: 10,
    batchSize: 50,
    temperature: 4,
    negatives: 64,
    featureDim: 16,
    crdWeight: 0.8,
  },
};

/** The student arms of the cross-modal experiment, in the table's order. */
export const CROSS_MODAL_ARMS = ['scratch', 'kd', 'crd', 'kdCrd'] as const;
type CrossModalArm = (typeof CROSS_MODAL_ARMS)[number];

/** The student's view of images `[n, 28, 28, 1]`: averages over `pool x pool` blocks, `[n, 28/pool, 28/pool, 1]`. */
export function downsampledView(x: tf.Tensor, pool: number): tf.Tensor4D {
  return tf.tidy(() => tf.avgPool(x as tf.Tensor4D, pool, pool, 'valid'));
}

/** What {@link runCrossModal} returns. */
export interface CrossModalResult {
  readonly config: CrossModalConfig;
  readonly rows: readonly Row[];
  readonly table: string;
  readonly seconds: number;
  readonly load: string;
}

/**
 * Experiment 5b (Tian et al. 2020, cross-modal transfer, in small): per seed, an MLP teacher
 * trained on full 28x28 images; then MLP students that see only a `pool`-times downsampled view
 * (7x7) of a `transferSize` subset, each batch pairing the view (`x`) with the full image
 * (`teacherX`, which the teacher sees): scratch on the view, KD (`0.1 ce + 0.9 kd(T)`), CRD
 * (`1 ce + 0.8 crd`: the student's view embedding against the teacher's full-image embedding of the
 * same example) and KD+CRD. Test error on the views of the test set. Writes `<dir>/cross-modal.json`
 * and `.md`; resumable.
 */
export async function runCrossModal(size: Size, dir: string, options: RunOptions = {}): Promise<CrossModalResult> {
  const config = CROSS_MODAL_SIZES[size];
  const log = options.log ?? (() => {});
  const results = new Results(dir, { experiment: 'cross-modal', size, config });
  const started = performance.now();
  const before = load();
  const arms = Object.fromEntries(['teacher', 'teacherOnView', ...CROSS_MODAL_ARMS].map((a) => [a, [] as SeedResult[]])) as Record<
    CrossModalArm | 'teacher' | 'teacherOnView',
    SeedResult[]
  >;
  const b = config.batchSize;
  for (const seed of SEEDS) {
    const { train, test } = await fashion(config.trainSize, config.testSize, seed, options.directory);
    const transfer = subset(train, config.transferSize, seed + 7);
    const paired: LabeledData = { x: downsampledView(transfer.x, config.pool), y: transfer.y, teacherX: transfer.x };
    const testView: LabeledData = { x: downsampledView(test.x, config.pool), y: test.y };
    const optimizers = new Optimizers();
    const teacher = mlp({ name: 'teacher', hidden: config.teacherHidden, dropout: config.teacherDropout, seed: seed * 1000 });
    const teacherRun = new Distiller({ student: teacher, optimizer: optimizers.next(), seed }).use(hardLabel());
    const distillers: Distiller[] = [teacherRun];
    arms.teacher.push(await results.arm(`teacher-${seed}`, teacher, test, fitWith(teacherRun, train, config.teacherEpochs, b)));
    // The teacher on the student's view, upsampled back to 28x28: what the view alone gives it.
    const blurred = tf.tidy(() => tf.image.resizeNearestNeighbor(testView.x as tf.Tensor4D, [28, 28]));
    arms.teacherOnView.push({ accuracy: (await evaluateModel(teacher, { x: blurred, y: test.y })).accuracy, seconds: 0 });
    blurred.dispose();
    log(`seed ${seed}: teacher ${(100 * arms.teacher.at(-1)!.accuracy).toFixed(2)} % (full images)`);
    const crdTerm = () =>
      crd({
        student: 'student_pool',
        teacher: 'teacher_pool',
        negatives: config.negatives,
        featureDim: config.featureDim,
        weight: config.crdWeight,
      });
    for (const arm of CROSS_MODAL_ARMS) {
      const student = mlp({
        name: 'student',
        hidden: config.studentHidden,
        inputShape: [28 / config.pool, 28 / config.pool, 1],
        seed: seed * 1000 + 500,
      });
      const optimizer = optimizers.next();
      const distiller =
        arm === 'scratch'
          ? new Distiller({ student, optimizer, seed }).use(hardLabel())
          : arm === 'kd'
            ? new Distiller({ student, teacher, optimizer, seed })
                .use(hardLabel({ weight: 0.1 }))
                .use(softTargets({ temperature: config.temperature, weight: 0.9 }))
            : arm === 'crd'
              ? new Distiller({ student, teacher, optimizer, seed }).use(hardLabel()).use(crdTerm())
              : new Distiller({ student, teacher, optimizer, seed })
                  .use(hardLabel())
                  .use(softTargets({ temperature: config.temperature, weight: 1 }))
                  .use(crdTerm());
      distillers.push(distiller);
      // The student's data: a scratch run must not carry the teacher's modality it never uses.
      const data = arm === 'scratch' ? { x: paired.x, y: paired.y } : paired;
      arms[arm].push(await results.arm(`${arm}-${seed}`, student, testView, fitWith(distiller, data, config.studentEpochs, b)));
      log(`seed ${seed}: ${arm} ${(100 * arms[arm].at(-1)!.accuracy).toFixed(2)} % (7x7 views)`);
      student.dispose();
    }
    for (const d of distillers) d.dispose();
    teacher.dispose();
    optimizers.dispose();
    tf.dispose([train.x, train.y, test.x, test.y, transfer.x, transfer.y, paired.x, testView.x]);
  }
  const v = 28 / config.pool;
  const s = `${v}x${v}-${config.studentHidden.join('-')}-10`;
  const rows = [
    row(`teacher 784-${config.teacherHidden.join('-')}-10 on full images`, arms.teacher),
    row(`the same teacher on the ${v}x${v} test views (upsampled back, no training)`, arms.teacherOnView),
    row(`student ${s} on ${v}x${v} views, scratch`, arms.scratch),
    row(`student on ${v}x${v} views, KD from the full-image teacher (T = ${config.temperature})`, arms.kd),
    row(`student on ${v}x${v} views, CRD (1 ce + ${config.crdWeight} crd)`, arms.crd),
    row(`student on ${v}x${v} views, KD + CRD (1 ce + 1 kd + ${config.crdWeight} crd)`, arms.kdCrd),
  ];
  const seconds = (performance.now() - started) / 1000;
  const markdown = `${table(rows, config.testSize)}\n\nSize ${size}: teacher on ${config.trainSize} full images (${config.teacherEpochs} epochs); students on ${config.transferSize} of them seen as ${v}x${v} averages (${config.studentEpochs} epochs), batch ${b}, CRD K = ${config.negatives}, d = ${config.featureDim}; seeds ${SEEDS.join(', ')}; ${seconds.toFixed(1)} s wall; ${before} at the start, ${load()} at the end.`;
  await writeReport(dir, 'cross-modal', { size, config, seeds: SEEDS, rows, seconds, load: before }, markdown);
  return { config, rows, table: markdown, seconds, load: before };
}
