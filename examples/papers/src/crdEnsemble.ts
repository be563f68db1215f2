import { Distiller, ensembleTeacher, evaluateModel, hardLabel, type LabeledData, softTargets } from '@kd/core';
import { crd, crdEnsemble } from '@kd/crd';
import { subset, trainValidationSplit } from '@kd/data';
import { mlp } from '@kd/models';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  AdamOptimizers,
  fashion,
  fitWith,
  load,
  Results,
  type Row,
  row,
  SEEDS,
  type SeedResult,
  type Size,
  table,
  writeReport,
} from './common';
import type { TeacherStudentSizes } from './crdShared';
import type { RunOptions } from './experiment';
// ---------------------------------------------------------------------------------------------
// Experiment 5a: CRD-EN (distilling an ensemble); its students also feed experiment 6
// ---------------------------------------------------------------------------------------------

/** The sizes of the CRD-EN experiment (Tian et al. 2020, distillation from an ensemble). */
export interface CrdEnsembleConfig extends TeacherStudentSizes {
  /** Held-out examples (from the same draw) that pick the best single teacher. */
  readonly validationSize: number;
  /** Teachers in the ensemble (same architecture, different initialisation and data order). */
  readonly teachers: number;
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
export async function ensembleStudy(
  size: Size,
  dir: string,
  options: RunOptions,
  observe?: (seed: EnsembleSeed) => void,
): Promise<EnsembleStudy> {
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
    const optimizers = new AdamOptimizers();
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
