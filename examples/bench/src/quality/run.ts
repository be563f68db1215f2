import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type DistillationPlugin,
  Distiller,
  evaluateModel,
  fitStages,
  hardLabel,
  type LabeledData,
  softTargets,
  type TeacherLike,
  trainStudentUpTo,
} from '@kd/core';
import { loadModel, saveModel } from '@kd/core/node';
import { crd } from '@kd/crd';
import { subset, take, trainValidationSplit } from '@kd/data';
import { loadFashionMnist } from '@kd/data/node';
import {
  activationBoundary,
  attentionTransfer,
  factorTransfer,
  fitnet,
  flowOfSolution,
  neuronSelectivityTransfer,
  Paraphraser,
  paraphraserTraining,
  variationalInformation,
} from '@kd/fitnet';
import { dist, dkd } from '@kd/logits';
import { correlationCongruence, pkt, rkd, similarityPreserving } from '@kd/relational';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { cnn, type ModelSizes, mlp, splitActivations } from './models';

export const METHODS = [
  'scratch',
  'kd',
  'fitnet',
  'at',
  'crd',
  'kd+crd',
  'kd+crd+fitnet',
  // issue 17: RepDistiller's other methods, mdistiller's DKD and DIST, each with hard labels (RepDistiller's -r 1 -a 0 -b <beta>)
  'dkd',
  'dist',
  'sp',
  'rkd',
  'pkt',
  'cc',
  'nst',
  'vid',
  'ft',
  // AB and FSP: an init stage (INIT_STAGE_EPOCHS) on the method alone, then hard labels alone (RepDistiller's -a 0; its loss_kd is 0 after the init).
  'ab',
  // FSP matrices need the teacher's channel counts: a student with the teacher's conv widths (WIDE_METHODS), and its own scratch baseline.
  'scratch-wide',
  'fsp',
] as const;
/** issue 17's methods (the `--methods new` shorthand of main.ts). */
export const NEW_METHODS: readonly Method[] = ['dkd', 'dist', 'sp', 'rkd', 'pkt', 'cc', 'nst', 'vid', 'ft', 'ab', 'scratch-wide', 'fsp'];
export type Method = (typeof METHODS)[number];
/** Methods that need spatial feature maps in the student (attention transfer): CNN pair only. */
export const SPATIAL_METHODS: readonly string[] = ['at', 'nst', 'vid', 'ft', 'ab', 'scratch-wide', 'fsp'];
/** Methods without a teacher: trained on the hard labels alone (the baselines of the gap closed). */
export const BASELINE_METHODS: readonly Method[] = ['scratch', 'scratch-wide'];
/**
 * Methods whose CNN student has the TEACHER's convolution widths (`sizes.teacher[0..1]`) and the
 * student's dense width (`sizes.cnnStudent[2]`): FSP's flow matrices of the student and the
 * teacher must be of one shape, so the channel counts must agree (RepDistiller runs FSP on pairs
 * of equal widths). Their gap closed is measured against `scratch-wide`, not `scratch`.
 */
export const WIDE_METHODS: readonly Method[] = ['scratch-wide', 'fsp'];
/** The scratch run a method's gap closed is measured against (same student architecture). */
export function baselineOf(method: Method): Method {
  return WIDE_METHODS.includes(method) ? 'scratch-wide' : 'scratch';
}
/** Epochs of FT's paraphraser stage before the student trains (RepDistiller: 30 of 240 on CIFAR; here about the same share). */
export const PARAPHRASER_EPOCHS = 10;
/** Epochs of AB's and FSP's init stage (RepDistiller's init_epochs: 30 of 240; here the paraphraser's share). */
export const INIT_STAGE_EPOCHS = PARAPHRASER_EPOCHS;
export const PAIRS = ['cnn', 'mlp'] as const;
export type Pair = (typeof PAIRS)[number];
export const REGIMES = ['full', 'small', 'omitted'] as const;
export type Regime = (typeof REGIMES)[number];
/**
 * Methods of the omitted-class regime (Hinton et al. 2015, sect. 3: a transfer set without any 3):
 * hard labels alone against KD, as in the paper.
 */
export const OMITTED_METHODS: readonly Method[] = ['scratch', 'kd'];
/** Bias increases tried for the omitted class, picked on the validation split. */
export const OMITTED_BIAS_GRID: readonly number[] = Array.from({ length: 21 }, (_, i) => i * 0.5);

/** Hyper-parameters of the distillation methods (picked on the validation split: see `tune`). */
export interface HyperParameters {
  readonly temperature: number;
  /** Weight of the KD term when KD is used alone (hard labels get 1 - kdWeight, RepDistiller 0.9 / 0.1). */
  readonly kdWeight: number;
  readonly crdWeight: number;
  readonly fitnetWeight: number;
  /** beta of attention transfer (RepDistiller: 1000). */
  readonly atWeight: number;
  readonly negatives: number;
  readonly featureDim: number;
}

export const DEFAULT_HYPER: HyperParameters = {
  temperature: 4,
  kdWeight: 0.9,
  crdWeight: 0.8,
  fitnetWeight: 100,
  atWeight: 1000,
  negatives: 4096,
  featureDim: 128,
};

/** Hyper-parameters from command-line numbers (`flag(name, fallback)`), shared by main.ts and compare.ts. */
export function hyperFromFlags(flag: (name: string, fallback: number) => number, quick: boolean): HyperParameters {
  return {
    ...DEFAULT_HYPER,
    temperature: flag('temperature', DEFAULT_HYPER.temperature),
    crdWeight: flag('crd-weight', DEFAULT_HYPER.crdWeight),
    negatives: flag('negatives', quick ? 64 : DEFAULT_HYPER.negatives),
    featureDim: quick ? 32 : DEFAULT_HYPER.featureDim,
  };
}

export interface QualityOptions {
  readonly seeds: readonly number[];
  /** Examples of the regime-(i) training pool (at most 60000 - validationSize). */
  readonly trainSize: number;
  /** Held-out part of the training set used for model selection (never the test split). */
  readonly validationSize: number;
  /** Examples of the regime-(ii) transfer set. */
  readonly smallSize: number;
  /** Class left out of the regime-(iii) transfer set (the training pool without it). */
  readonly omittedClass: number;
  /** Test examples evaluated (10000 = all). */
  readonly testSize: number;
  /** Student epochs over the regime-(i) pool; regime (ii) takes the same number of steps. */
  readonly epochs: number;
  readonly teacherEpochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly sizes: ModelSizes;
  readonly pairs: readonly Pair[];
  readonly regimes: readonly Regime[];
  readonly methods: readonly Method[];
  readonly hyper: HyperParameters;
  /** Where teachers and results go. */
  readonly out: string;
  readonly backend: string;
  readonly log: (line: string) => void;
}

/** One curve point: after `step` student steps. */
export interface CurvePoint {
  readonly step: number;
  readonly test: number;
  readonly validation: number;
}

export interface RunRecord {
  readonly seed: number;
  readonly pair: Pair;
  readonly regime: Regime;
  readonly method: Method;
  readonly description: string;
  readonly examples: number;
  readonly steps: number;
  readonly curve: readonly CurvePoint[];
  readonly lastTest: number;
  readonly bestTest: number;
  /** Test accuracy at the point with the best validation accuracy (model selection without the test split). */
  readonly selectedTest: number;
  readonly trainSeconds: number;
  readonly wallSeconds: number;
  readonly samplesPerSecond: number;
  readonly teacherCacheHits?: number;
  /** Regime (iii) only: the omitted class, before and after raising its logit bias. */
  readonly omitted?: OmittedRecord;
  /** AB and FSP: the init stage's weighted loss in its first and last epoch (it must fall), and its seconds. */
  readonly initStage?: { readonly epochs: number; readonly firstLoss: number; readonly lastLoss: number; readonly seconds: number };
}

/**
 * Hinton's bias correction for a class the student never saw: the logit of `omittedClass` is raised
 * by `bias`, chosen on the validation split from {@link OMITTED_BIAS_GRID} (never the test split).
 */
export interface OmittedRecord {
  readonly omittedClass: number;
  readonly bias: number;
  readonly testBefore: number;
  readonly testAfter: number;
  /** Test examples of the omitted class, and how many of them are classified right. */
  readonly classExamples: number;
  readonly classCorrectBefore: number;
  readonly classCorrectAfter: number;
}

export interface TeacherRecord {
  readonly seed: number;
  readonly test: number;
  readonly validation: number;
  readonly seconds: number;
  readonly loaded: boolean;
}

export interface QualityResult {
  readonly options: Omit<QualityOptions, 'log'>;
  readonly teachers: readonly TeacherRecord[];
  readonly runs: readonly RunRecord[];
  readonly seconds: number;
}

function pluginsFor(
  method: Method,
  pair: Pair,
  h: HyperParameters,
  examples: number,
  batchSize: number,
  paraphraser?: Paraphraser,
): DistillationPlugin<unknown>[] {
  const studentPool = pair === 'cnn' ? 'student_pool' : 'mlp_pool';
  const guided = pair === 'cnn' ? 'student_block2' : 'mlp_hidden';
  const hint = pair === 'cnn' ? 'teacher_block2' : 'teacher_pool';
  const negatives = Math.min(h.negatives, examples - batchSize - 1);
  const crdPlugin = () =>
    crd({ student: studentPool, teacher: 'teacher_pool', negatives, featureDim: h.featureDim, sampling: 'shared', weight: h.crdWeight });
  const fitnetPlugin = () => fitnet({ student: guided, teacher: hint, weight: h.fitnetWeight });
  const kd = (weight: number) => softTargets({ temperature: h.temperature, weight });
  const list: DistillationPlugin<unknown>[] = [];
  const add = <S>(p: DistillationPlugin<S>) => list.push(p as unknown as DistillationPlugin<unknown>);
  switch (method) {
    case 'scratch':
      add(hardLabel({ weight: 1 }));
      break;
    case 'kd':
      add(hardLabel({ weight: Math.round((1 - h.kdWeight) * 1e6) / 1e6 }));
      add(kd(h.kdWeight));
      break;
    case 'fitnet':
      add(hardLabel({ weight: 1 }));
      add(fitnetPlugin());
      break;
    case 'at':
      // Attention maps of both conv blocks (same spatial sizes in student and teacher).
      add(hardLabel({ weight: 1 }));
      add(
        attentionTransfer({
          pairs: [
            { student: 'student_block1', teacher: 'teacher_block1' },
            { student: 'student_block2', teacher: 'teacher_block2' },
          ],
          beta: h.atWeight,
        }),
      );
      break;
    case 'crd':
      add(hardLabel({ weight: 1 }));
      add(crdPlugin());
      break;
    case 'kd+crd':
      add(hardLabel({ weight: 1 }));
      add(kd(1));
      add(crdPlugin());
      break;
    case 'kd+crd+fitnet':
      add(hardLabel({ weight: 1 }));
      add(kd(1));
      add(crdPlugin());
      add(fitnetPlugin());
      break;
    // Weights: the reference toolkits' defaults (RepDistiller's CIFAR-100 betas, mdistiller's DKD,
    // DIST's paper), not tuned here. Relational methods on the penultimate features (RepDistiller's
    // feat[-1]); NST and VID on the second conv block's maps.
    case 'dkd':
      add(hardLabel({ weight: 1 }));
      add(dkd({ alpha: 1, beta: 8, temperature: 4, warmupEpochs: 20 }));
      break;
    case 'dist':
      add(hardLabel({ weight: 1 }));
      add(dist({ beta: 1, gamma: 1, temperature: 1 }));
      break;
    case 'sp':
      add(hardLabel({ weight: 1 }));
      add(similarityPreserving({ student: studentPool, teacher: 'teacher_pool', weight: 3000 }));
      break;
    case 'rkd':
      add(hardLabel({ weight: 1 }));
      add(rkd({ student: studentPool, teacher: 'teacher_pool', weight: 1 }));
      break;
    case 'pkt':
      add(hardLabel({ weight: 1 }));
      add(pkt({ student: studentPool, teacher: 'teacher_pool', weight: 30000 }));
      break;
    case 'cc':
      add(hardLabel({ weight: 1 }));
      add(correlationCongruence({ student: studentPool, teacher: 'teacher_pool', weight: 0.02 }));
      break;
    case 'nst':
      add(hardLabel({ weight: 1 }));
      add(neuronSelectivityTransfer({ pairs: [{ student: 'student_block2', teacher: 'teacher_block2' }], weight: 50 }));
      break;
    case 'vid':
      add(hardLabel({ weight: 1 }));
      add(variationalInformation({ student: 'student_block2', teacher: 'teacher_block2', weight: 1 }));
      break;
    case 'ft':
      // After the paraphraser's own stage (runMethod): hard labels + factor transfer at 200.
      add(hardLabel({ weight: 1 }));
      add(factorTransfer({ student: 'student_block2', teacher: 'teacher_block2', paraphraser: paraphraser!, weight: 200 }));
      break;
    case 'ab':
    case 'fsp':
    case 'scratch-wide':
      // AB and FSP: after their init stage (runMethod), hard labels alone, as RepDistiller.
      add(hardLabel({ weight: 1 }));
      break;
  }
  return list;
}

/**
 * The init stage of AB or FSP (RepDistiller `init()`: the student's feature layers, and AB's
 * connectors, trained on the method alone; the classifier untouched), as one `fitStages` stage.
 * AB: the pre-activation maps of both conv layers (`splitActivations` views), weighted
 * `2^(i - n + 1)` as the reference (0.5 and 1), margin 1. FSP: the flow matrices between the
 * consecutive maps conv1 -> conv2 -> block2 (RepDistiller pairs consecutive stages), weight 1.
 */
function initStage(method: 'ab' | 'fsp', model: tfl.LayersModel, optimizer: tf.Optimizer) {
  if (method === 'ab') {
    return {
      name: 'ab-init',
      plugins: [
        activationBoundary({ student: 'student_conv1', teacher: 'teacher_conv1', weight: 0.5, name: 'ab1' }),
        activationBoundary({ student: 'student_conv2', teacher: 'teacher_conv2', weight: 1, name: 'ab2' }),
      ] as DistillationPlugin<unknown>[],
      epochs: INIT_STAGE_EPOCHS,
      optimizer,
      trainable: trainStudentUpTo(model, 'student_conv2'),
    };
  }
  return {
    name: 'fsp-init',
    plugins: [
      flowOfSolution({
        pairs: [
          { student: ['student_conv1', 'student_conv2'], teacher: ['teacher_conv1', 'teacher_conv2'] },
          { student: ['student_conv2', 'student_block2'], teacher: ['teacher_conv2', 'teacher_block2'] },
        ],
      }),
    ] as DistillationPlugin<unknown>[],
    epochs: INIT_STAGE_EPOCHS,
    optimizer,
    trainable: trainStudentUpTo(model, 'student_block2'),
  };
}

function student(pair: Pair, sizes: ModelSizes, seed: number, method?: Method): tfl.LayersModel {
  if (pair === 'mlp') return mlp('mlp', sizes.mlpStudent[0], sizes.mlpStudent[1], seed * 1000 + 700);
  const wide = method !== undefined && WIDE_METHODS.includes(method);
  const [c1, c2] = wide ? sizes.teacher : sizes.cnnStudent;
  const model = cnn('student', c1, c2, sizes.cnnStudent[2], seed * 1000 + 500);
  if (method !== 'ab') return model;
  // AB taps pre-activations: the same student (same initial weights), its ReLUs as layers.
  const split = splitActivations(model, 'student');
  model.dispose();
  return split;
}

async function accuracy(model: tfl.LayersModel, data: LabeledData): Promise<number> {
  return (await evaluateModel(model, data, { batchSize: 500 })).accuracy;
}

/** Logits `[n * classes]` (row-major) and labels of `data`, in batches of 500. */
export async function logitsOf(
  model: tfl.LayersModel,
  data: LabeledData,
): Promise<{ logits: Float32Array; labels: Int32Array; classes: number }> {
  const n = data.x.shape[0]!;
  const parts: Float32Array[] = [];
  let classes = 0;
  for (let start = 0; start < n; start += 500) {
    const out = tf.tidy(() => model.predict(tf.slice(data.x, start, Math.min(500, n - start))) as tf.Tensor2D);
    classes = out.shape[1];
    parts.push((await out.data()) as Float32Array);
    out.dispose();
  }
  const logits = new Float32Array(n * classes);
  let at = 0;
  for (const p of parts) {
    logits.set(p, at);
    at += p.length;
  }
  return { logits, labels: (await data.y.data()) as Int32Array, classes };
}

/** Accuracy and correct examples of class `c` when c's logit is raised by `bias`. */
export function correctedAccuracy(
  o: { logits: Float32Array; labels: Int32Array; classes: number },
  c: number,
  bias: number,
): { accuracy: number; classCorrect: number; classExamples: number } {
  let right = 0;
  let classCorrect = 0;
  let classExamples = 0;
  for (let i = 0; i < o.labels.length; i++) {
    let best = 0;
    let bestValue = Number.NEGATIVE_INFINITY;
    for (let k = 0; k < o.classes; k++) {
      const v = o.logits[i * o.classes + k]! + (k === c ? bias : 0);
      if (v > bestValue) {
        bestValue = v;
        best = k;
      }
    }
    const ok = best === o.labels[i];
    if (ok) right++;
    if (o.labels[i] === c) {
      classExamples++;
      if (ok) classCorrect++;
    }
  }
  return { accuracy: right / Math.max(1, o.labels.length), classCorrect, classExamples };
}

/** Picks the omitted class's bias on the validation split and reports the test split before and after. */
async function omittedCorrection(model: tfl.LayersModel, c: number, validation: LabeledData, test: LabeledData): Promise<OmittedRecord> {
  const val = await logitsOf(model, validation);
  let bias = 0;
  let best = -1;
  for (const b of OMITTED_BIAS_GRID) {
    const a = correctedAccuracy(val, c, b).accuracy;
    if (a > best) [best, bias] = [a, b];
  }
  const t = await logitsOf(model, test);
  const before = correctedAccuracy(t, c, 0);
  const after = correctedAccuracy(t, c, bias);
  return {
    omittedClass: c,
    bias,
    testBefore: before.accuracy,
    testAfter: after.accuracy,
    classExamples: before.classExamples,
    classCorrectBefore: before.classCorrect,
    classCorrectAfter: after.classCorrect,
  };
}

/** Trains (or loads the saved) teacher of a seed on the regime-(i) pool. */
export async function teacherFor(
  seed: number,
  pool: LabeledData,
  validation: LabeledData,
  test: LabeledData,
  o: QualityOptions,
): Promise<{ model: tfl.LayersModel; record: TeacherRecord }> {
  const [c1, c2, d] = o.sizes.teacher;
  const key = {
    sizes: o.sizes.teacher,
    epochs: o.teacherEpochs,
    trainSize: o.trainSize,
    validationSize: o.validationSize,
    batchSize: o.batchSize,
    lr: o.learningRate,
    seed,
  };
  const dir = join(o.out, 'teachers', `c${c1}-${c2}-${d}_n${o.trainSize}_e${o.teacherEpochs}_seed${seed}`);
  const metaPath = join(dir, 'bench.json');
  const started = Date.now();
  if (existsSync(metaPath) && JSON.stringify(JSON.parse(readFileSync(metaPath, 'utf8')).key) === JSON.stringify(key)) {
    const model = await loadModel(dir);
    const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
    o.log(`seed ${seed}: loaded teacher from ${dir}`);
    return {
      model,
      record: {
        seed,
        test: await accuracy(model, test),
        validation: await accuracy(model, validation),
        seconds: meta.seconds,
        loaded: true,
      },
    };
  }
  const model = cnn('teacher', c1, c2, d, seed * 1000 + 1);
  const trainer = new Distiller({ student: model, optimizer: tf.train.adam(o.learningRate), seed }).use(hardLabel());
  await trainer.fit(pool, { epochs: o.teacherEpochs, batchSize: o.batchSize });
  trainer.dispose();
  trainer.optimizer.dispose();
  const seconds = (Date.now() - started) / 1000;
  mkdirSync(dir, { recursive: true });
  await saveModel(model, dir);
  writeFileSync(metaPath, JSON.stringify({ key, seconds }, null, 2));
  const record = { seed, test: await accuracy(model, test), validation: await accuracy(model, validation), seconds, loaded: false };
  o.log(
    `seed ${seed}: trained teacher in ${seconds.toFixed(0)} s: test ${(record.test * 100).toFixed(2)} %, validation ${(record.validation * 100).toFixed(2)} %`,
  );
  return { model, record };
}

/** Trains one student with one method and records its curve. */
export async function runMethod(
  args: {
    seed: number;
    pair: Pair;
    regime: Regime;
    method: Method;
    data: LabeledData;
    /** The trained teacher (or any teacher of it: a stored one, `src/store/accuracy.ts`). */
    teacher: TeacherLike;
    validation: LabeledData;
    test: LabeledData;
    rounds: number;
    epochsPerRound: number;
    /** Called with the trained student before it is disposed (e.g. to checksum its weights). */
    inspect?: (model: tfl.LayersModel) => Promise<void>;
  },
  o: QualityOptions,
  hyper: HyperParameters = o.hyper,
): Promise<RunRecord> {
  const started = Date.now();
  const model = student(args.pair, o.sizes, args.seed, args.method);
  const examples = args.data.x.shape[0]!;
  const optimizer = tf.train.adam(o.learningRate);
  let init: RunRecord['initStage'];
  // AB and FSP: their init stage first (its own optimizer), through fitStages. AB taps the
  // teacher's pre-activations: a view of the same teacher with its ReLUs as layers.
  if (args.method === 'ab' || args.method === 'fsp') {
    const stageOptimizer = tf.train.adam(o.learningRate);
    const teacherModel = args.teacher as tfl.LayersModel;
    const view = args.method === 'ab' ? splitActivations(teacherModel, 'teacher') : undefined;
    try {
      const t0 = Date.now();
      const [stage] = await fitStages(
        {
          student: model,
          teacher: view ?? args.teacher,
          seed: args.seed * 7919 + 19,
          stages: [initStage(args.method, model, stageOptimizer)],
        },
        args.data,
      );
      const epochs = stage!.history.epochs;
      init = { epochs: epochs.length, firstLoss: epochs[0]!.loss, lastLoss: epochs.at(-1)!.loss, seconds: (Date.now() - t0) / 1000 };
      o.log(
        `seed ${args.seed} ${args.method} init stage: loss ${init.firstLoss.toPrecision(4)} -> ${init.lastLoss.toPrecision(4)} in ${epochs.length} epochs`,
      );
    } finally {
      stageOptimizer.dispose();
      view?.dispose();
    }
  }
  // FT: the paraphraser (an autoencoder on the teacher's map) trains first, alone, then is shared.
  const paraphraser = args.method === 'ft' ? new Paraphraser({ rate: 0.5 }) : undefined;
  if (paraphraser) {
    const stageOptimizer = tf.train.adam(o.learningRate);
    const stage = new Distiller({
      student: model,
      teacher: args.teacher,
      optimizer: stageOptimizer,
      seed: args.seed * 7919 + 17,
      trainable: paraphraser.trainableFilter(),
    }).use(paraphraserTraining({ teacher: 'teacher_block2', paraphraser }));
    await stage.fit(args.data, { epochs: PARAPHRASER_EPOCHS, batchSize: o.batchSize });
    stage.dispose();
    stageOptimizer.dispose();
  }
  const distiller = new Distiller({ student: model, teacher: args.teacher, optimizer, seed: args.seed * 7919 + 13 });
  for (const p of pluginsFor(args.method, args.pair, hyper, examples, o.batchSize, paraphraser)) distiller.use(p);
  const curve: CurvePoint[] = [];
  let trainSeconds = 0;
  let steps = 0;
  for (let r = 1; r <= args.rounds; r++) {
    const t0 = Date.now();
    await distiller.fit(args.data, { epochs: r * args.epochsPerRound, batchSize: o.batchSize });
    trainSeconds += (Date.now() - t0) / 1000;
    steps = r * args.epochsPerRound * Math.ceil(examples / o.batchSize);
    curve.push({ step: steps, test: await accuracy(model, args.test), validation: await accuracy(model, args.validation) });
  }
  const description = distiller.describe();
  const hits = distiller.teacherCacheStats()?.hits;
  const omitted = args.regime === 'omitted' ? await omittedCorrection(model, o.omittedClass, args.validation, args.test) : undefined;
  await args.inspect?.(model);
  distiller.dispose();
  optimizer.dispose();
  paraphraser?.dispose();
  model.dispose();
  let selected = curve[0]!;
  for (const p of curve) if (p.validation > selected.validation) selected = p;
  return {
    seed: args.seed,
    pair: args.pair,
    regime: args.regime,
    method: args.method,
    description,
    examples,
    steps,
    curve,
    lastTest: curve.at(-1)!.test,
    bestTest: Math.max(...curve.map((p) => p.test)),
    selectedTest: selected.test,
    trainSeconds,
    wallSeconds: (Date.now() - started) / 1000,
    samplesPerSecond: (steps * o.batchSize) / trainSeconds,
    ...(hits !== undefined ? { teacherCacheHits: hits } : {}),
    ...(omitted ? { omitted } : {}),
    ...(init ? { initStage: init } : {}),
  };
}

/** Splits of one seed: validation (held out of training), regime pools, test. */
export interface SeedData {
  readonly validation: LabeledData;
  readonly pool: LabeledData;
  readonly small: LabeledData;
  /** The pool without the omitted class (regime iii). */
  readonly omitted: LabeledData;
}

export function seedData(
  train: LabeledData,
  seed: number,
  o: Pick<QualityOptions, 'validationSize' | 'trainSize' | 'smallSize' | 'omittedClass'>,
): SeedData {
  const n = train.x.shape[0]!;
  const split = trainValidationSplit(train, o.validationSize / n, seed);
  const rest = split.train.x.shape[0]!;
  if (o.trainSize > rest) throw new RangeError(`trainSize ${o.trainSize} > ${rest} examples left after the validation split`);
  const pool = o.trainSize < rest ? subset(split.train, o.trainSize, seed + 1) : split.train;
  if (pool !== split.train) tf.dispose([split.train.x, split.train.y]);
  const small = subset(pool, o.smallSize, seed + 2);
  const labels = pool.y.dataSync();
  const kept: number[] = [];
  for (let i = 0; i < labels.length; i++) if (labels[i] !== o.omittedClass) kept.push(i);
  const omitted = take(pool, kept);
  return { validation: split.validation, pool, small, omitted };
}

function disposeData(...data: LabeledData[]): void {
  for (const d of data) tf.dispose([d.x, d.y]);
}

/** Runs every seed x pair x regime x method; writes `results.json` under `out`. */
export async function runQuality(o: QualityOptions): Promise<QualityResult> {
  const started = Date.now();
  const { train, test: fullTest } = await loadFashionMnist();
  const test =
    o.testSize < fullTest.x.shape[0]!
      ? take(
          fullTest,
          Array.from({ length: o.testSize }, (_, i) => i),
        )
      : fullTest;
  if (test !== fullTest) disposeData(fullTest);
  const teachers: TeacherRecord[] = [];
  const runs: RunRecord[] = [];
  for (const seed of o.seeds) {
    const data = seedData(train, seed, o);
    const { model: teacher, record } = await teacherFor(seed, data.pool, data.validation, test, o);
    teachers.push(record);
    const fullSteps = Math.ceil(o.trainSize / o.batchSize);
    const smallSteps = Math.ceil(o.smallSize / o.batchSize);
    for (const pair of o.pairs) {
      for (const regime of o.regimes) {
        const rounds = o.epochs;
        const epochsPerRound = regime === 'small' ? Math.max(1, Math.round(fullSteps / smallSteps)) : 1;
        const methods = o.methods.filter((m) =>
          regime === 'omitted' ? OMITTED_METHODS.includes(m) : pair === 'cnn' || !SPATIAL_METHODS.includes(m),
        );
        const regimeData = regime === 'full' ? data.pool : regime === 'small' ? data.small : data.omitted;
        for (const method of methods) {
          const rec = await runMethod(
            { seed, pair, regime, method, data: regimeData, teacher, validation: data.validation, test, rounds, epochsPerRound },
            o,
          );
          runs.push(rec);
          const corrected = rec.omitted
            ? `; class ${rec.omitted.omittedClass} right ${rec.omitted.classCorrectBefore}/${rec.omitted.classExamples}, after bias +${rec.omitted.bias}: ${rec.omitted.classCorrectAfter}/${rec.omitted.classExamples}, test ${(rec.omitted.testAfter * 100).toFixed(2)} %`
            : '';
          o.log(
            `seed ${seed} ${pair} ${regime.padEnd(7)} ${method.padEnd(14)} test last ${(rec.lastTest * 100).toFixed(2)} % best ${(rec.bestTest * 100).toFixed(2)} %  ${rec.steps} steps ${rec.trainSeconds.toFixed(1)} s (${rec.samplesPerSecond.toFixed(0)} samples/s)${corrected}`,
          );
        }
      }
    }
    teacher.dispose();
    disposeData(data.validation, data.small, data.pool, data.omitted);
  }
  disposeData(train, test);
  const { log: _log, ...options } = o;
  const result: QualityResult = { options, teachers, runs, seconds: (Date.now() - started) / 1000 };
  mkdirSync(o.out, { recursive: true });
  writeFileSync(join(o.out, 'results.json'), JSON.stringify(result, null, 2));
  return result;
}

/**
 * Picks the temperature and the CRD weight on the VALIDATION split (seed of `o.seeds[0]`, CNN
 * pair, small regime): the grid values are tried one at a time, the rest at the defaults.
 */
export async function tune(
  o: QualityOptions,
  grid: { temperature: number[]; crdWeight: number[] },
): Promise<{ hyper: HyperParameters; trials: { hyper: Partial<HyperParameters>; method: Method; validation: number }[] }> {
  const { train, test } = await loadFashionMnist();
  disposeData(test);
  const seed = o.seeds[0]!;
  const data = seedData(train, seed, o);
  disposeData(train);
  const { model: teacher } = await teacherFor(seed, data.pool, data.validation, data.validation, o);
  const fullSteps = Math.ceil(o.trainSize / o.batchSize);
  const epochsPerRound = Math.max(1, Math.round(fullSteps / Math.ceil(o.smallSize / o.batchSize)));
  const trials: { hyper: Partial<HyperParameters>; method: Method; validation: number }[] = [];
  const trial = async (method: Method, change: Partial<HyperParameters>) => {
    const rec = await runMethod(
      {
        seed,
        pair: 'cnn',
        regime: 'small',
        method,
        data: data.small,
        teacher,
        validation: data.validation,
        test: data.validation,
        rounds: o.epochs,
        epochsPerRound,
      },
      o,
      { ...o.hyper, ...change },
    );
    const validation = Math.max(...rec.curve.map((p) => p.validation));
    trials.push({ hyper: change, method, validation });
    o.log(`tune ${method} ${JSON.stringify(change)}: best validation ${(validation * 100).toFixed(2)} %`);
    return validation;
  };
  let best = { value: -1, temperature: o.hyper.temperature };
  for (const temperature of grid.temperature) {
    const v = await trial('kd', { temperature });
    if (v > best.value) best = { value: v, temperature };
  }
  let bestCrd = { value: -1, crdWeight: o.hyper.crdWeight };
  for (const crdWeight of grid.crdWeight) {
    const v = await trial('crd', { crdWeight });
    if (v > bestCrd.value) bestCrd = { value: v, crdWeight };
  }
  teacher.dispose();
  disposeData(data.validation, data.small, data.pool, data.omitted);
  return { hyper: { ...o.hyper, temperature: best.temperature, crdWeight: bestCrd.crdWeight }, trials };
}
