import { bitEvalPreprocess, bitPreprocess, bitResNetSmall, type HyperRule, hyperRule, PRE_LOGITS } from '@kd/bit';
import { type DistillationPlugin, Distiller, hardLabel, type LabeledData, SeededRandom, sgd, softTargets } from '@kd/core';
import { crd } from '@kd/crd';
import { take } from '@kd/data';
import { loadMnistDigits } from '@kd/data/node';
import { smallCnn } from '@kd/models';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  fashion,
  load,
  Optimizers,
  Results,
  type Row,
  row,
  SEEDS,
  type SeedResult,
  type Size,
  type Store,
  table,
  writeReport,
} from './common';
import type { RunOptions } from './experiment';

/** The sizes of experiment 4 (BiT: upstream pre-training, few-shot transfer with the HyperRule, then distillation). */
export interface BitTransferConfig {
  /** Upstream: Fashion-MNIST training examples (all 60 000 at full size) and test examples for the upstream row. */
  readonly upstreamTrainSize: number;
  readonly upstreamTestSize: number;
  /** Upstream SGD steps (momentum 0.9, warm-up over the first 5 %, /10 at 30, 60 and 80 % as BiT's upstream recipe). */
  readonly upstreamSteps: number;
  readonly upstreamBatchSize: number;
  readonly upstreamLr: number;
  /** `bitResNetSmall` (GN + WS, root stride 2, units [1, 1, 1]): width and stage strides. */
  readonly width: number;
  readonly strides: readonly [number, number, number];
  /** Downstream (MNIST digits) few-shot sizes: training examples per class. */
  readonly shots: readonly number[];
  /** Digits test examples (drawn from `loadMnistDigits`' held-out test split, which the few-shot draws never touch). */
  readonly testSize: number;
  /** The HyperRule's `stepsScale` for the downstream runs (below 20 000 examples the rule is 100/200/300/400/500 steps). */
  readonly stepsScale: number;
  /** Examples per downstream step (the rule's 512 scaled down; a set smaller than this is one batch). */
  readonly batchSize: number;
  /** Square resize before the random training crop (the rule's 160 -> 128 scaled down to resize -> crop). */
  readonly resize: number;
  readonly crop: number;
  /**
   * Base learning rate of the downstream runs, the same for transfer and scratch. `full` uses 0.1,
   * the lowest mean validation error of both kinds in `bit-transfer-lr`'s grid (0.003, 0.01, 0.03,
   * 0.1; the HyperRule's 0.003 assumes batch 512, a big pre-trained model and 500 steps).
   */
  readonly baseLr: number;
  /**
   * Distillation: students trained with the HyperRule's schedule at this stepsScale and base
   * learning rate (`full`: 0.01 with an 8-16 CNN; a 4-8 CNN from scratch collapsed on seed 2 at
   * 0.03 and at 0.01).
   */
  readonly studentStepsScale: number;
  readonly studentLr: number;
  /** `smallCnn` student: filters and dense units. */
  readonly studentFilters: readonly [number, number];
  readonly studentDense: number;
  readonly temperature: number;
  /** CRD negatives K (< the distillation set's size) and embedding size. */
  readonly negatives: number;
  readonly featureDim: number;
}

/**
 * `full`: a width-1 `bitResNetSmall` pre-trained for 1500 steps on all 60 000 Fashion-MNIST
 * images, transferred at 1, 5, 10, 100 digits per class with 300 HyperRule steps (stepsScale 0.6,
 * batch 32, base lr 0.1, chosen on validation by `bit-transfer-lr`), tested on the 2 000 held-out digits; `small`: seconds (every arm kind,
 * in the tests).
 */
export const BIT_TRANSFER_SIZES: Readonly<Record<Size, BitTransferConfig>> = {
  full: {
    upstreamTrainSize: 60_000,
    upstreamTestSize: 10_000,
    upstreamSteps: 1500,
    upstreamBatchSize: 64,
    upstreamLr: 0.1,
    width: 1,
    strides: [2, 2, 2],
    shots: [1, 5, 10, 100],
    testSize: 2000,
    stepsScale: 0.6,
    batchSize: 32,
    resize: 32,
    crop: 28,
    baseLr: 0.1,
    studentStepsScale: 0.6,
    studentLr: 0.01,
    studentFilters: [8, 16],
    studentDense: 32,
    temperature: 4,
    negatives: 256,
    featureDim: 64,
  },
  small: {
    upstreamTrainSize: 256,
    upstreamTestSize: 100,
    upstreamSteps: 6,
    upstreamBatchSize: 32,
    upstreamLr: 0.1,
    width: 1,
    strides: [2, 2, 2],
    shots: [1, 5],
    testSize: 100,
    stepsScale: 0.01,
    batchSize: 32,
    resize: 32,
    crop: 28,
    baseLr: 0.03,
    studentStepsScale: 0.01,
    studentLr: 0.03,
    studentFilters: [4, 8],
    studentDense: 16,
    temperature: 4,
    negatives: 16,
    featureDim: 16,
  },
};

export interface BitTransferResult {
  readonly config: BitTransferConfig;
  /** The upstream model on Fashion-MNIST's test examples (one run, no seeds). */
  readonly upstream: Row;
  /** Per shot count: `transfer` then `scratch`, on the digits test set. */
  readonly transfer: readonly Row[];
  /** Teacher (the transfer at the largest shot count), scratch CNN, KD, KD + CRD. */
  readonly distil: readonly Row[];
  readonly table: string;
  readonly seconds: number;
  readonly load: string;
}

/**
 * `shots` examples of every class, drawn from `data` with `seed`: one seeded permutation per class,
 * its first `shots` indices (so the draws are nested: the 5-shot set holds the 1-shot set).
 */
export function fewShot(data: LabeledData, shots: number, seed: number, classes = 10): LabeledData {
  return take(data, fewShotPositions(data, shots, seed, classes));
}

/** The positions in `data` of {@link fewShot}'s draw (class by class). */
export function fewShotPositions(data: LabeledData, shots: number, seed: number, classes = 10): number[] {
  const labels = data.y.dataSync();
  const indices: number[] = [];
  for (let c = 0; c < classes; c++) {
    const ofClass: number[] = [];
    labels.forEach((label, i) => {
      if (label === c) ofClass.push(i);
    });
    if (ofClass.length < shots) throw new Error(`fewShot: class ${c} has ${ofClass.length} examples, fewer than ${shots}`);
    const order = new SeededRandom(seed * 1000 + c).permutation(ofClass.length);
    for (let k = 0; k < shots; k++) indices.push(ofClass[order[k]!]!);
  }
  return indices;
}

/** Copies every weight of `from` into `to` except the head's (`resnet/head/...`), which keeps its zero init. */
export function copyBody(from: tfl.LayersModel, to: tfl.LayersModel): void {
  for (const layer of to.layers) {
    if (layer.name.startsWith('resnet/head/') || layer.getWeights().length === 0) continue;
    layer.setWeights(from.getLayer(layer.name).getWeights());
  }
}

/** BiT's upstream schedule, in steps: linear warm-up over 5 %, then /10 at 30, 60 and 80 % of the run. */
function upstreamSchedule(steps: number, lr: number): (step: number) => number {
  const warm = Math.max(1, Math.round(0.05 * steps));
  return (step) => (step < warm ? (lr * (step + 1)) / warm : lr / 10 ** [0.3, 0.6, 0.8].filter((f) => step >= f * steps).length);
}

/** The downstream `bitResNetSmall` of `config` (zero-init head), seeded. */
export function downstreamResNet(config: BitTransferConfig, seed: number): tfl.LayersModel {
  return bitResNetSmall({
    classes: 10,
    rootStride: 2,
    strides: [...config.strides],
    width: config.width,
    zeroHead: true,
    seed,
    name: 'resnet',
  });
}

/** BiT's training preprocessing at `config`'s sizes: random `resize -> crop` crops, flips when asked. */
export function transferPreprocess(config: BitTransferConfig, flip: boolean) {
  return bitPreprocess({ resize: config.resize, crop: config.crop, flip });
}

/** The HyperRule for `n` downstream examples at `stepsScale` and `baseLr`, with `config`'s crop sizes. */
export function downstreamRule(config: BitTransferConfig, n: number, stepsScale: number, baseLr: number): HyperRule {
  return { ...hyperRule({ trainSize: n, imageSize: 28, stepsScale, baseLr }), resize: config.resize, crop: config.crop };
}

/** Fits `distiller` on `data` with rule `r`'s steps and schedule, batch min(config.batchSize, N), resumable from `store`. */
export function fitWithRule(config: BitTransferConfig, distiller: Distiller, data: LabeledData, r: HyperRule, store: Store) {
  const n = data.x.shape[0]!;
  const batchSize = Math.min(config.batchSize, n);
  return distiller.fit(data, {
    epochs: Math.ceil(r.totalSteps / Math.ceil(n / batchSize)),
    batchSize,
    maxSteps: r.totalSteps,
    learningRate: ({ step }) => r.schedule(step) ?? 0,
    checkpoint: store,
    resume: true,
  });
}

/**
 * The upstream model: a `bitResNetSmall` pre-trained on Fashion-MNIST with BiT's upstream schedule
 * and flips (arm `upstream` of `results`: checkpointed, so a rerun restores it), with its
 * accuracy on `config.upstreamTestSize` Fashion-MNIST test images. Deterministic for a backend.
 */
export async function pretrainedUpstream(
  config: BitTransferConfig,
  results: Results,
  optimizer: tf.Optimizer,
  directory?: string,
): Promise<{ model: tfl.LayersModel; result: SeedResult }> {
  const upstreamData = await fashion(config.upstreamTrainSize, config.upstreamTestSize, 0, directory);
  const upstreamTest = bitEvalPreprocess(upstreamData.test, { resize: config.resize, crop: config.crop });
  const model = bitResNetSmall({ classes: 10, rootStride: 2, strides: [...config.strides], width: config.width, seed: 7, name: 'resnet' });
  const run = new Distiller({ student: model, optimizer, seed: 0 }).use(transferPreprocess(config, true)).use(hardLabel());
  const schedule = upstreamSchedule(config.upstreamSteps, config.upstreamLr);
  const result = await results.arm('upstream', model, upstreamTest, (store) =>
    run.fit(upstreamData.train, {
      epochs: Math.ceil((config.upstreamSteps * config.upstreamBatchSize) / config.upstreamTrainSize),
      batchSize: config.upstreamBatchSize,
      maxSteps: config.upstreamSteps,
      learningRate: ({ step }) => schedule(step),
      checkpoint: store,
      resume: true,
    }),
  );
  run.dispose();
  tf.dispose([upstreamData.train.x, upstreamData.train.y, upstreamData.test.x, upstreamData.test.y, upstreamTest.x, upstreamTest.y]);
  return { model, result };
}

/**
 * Experiment 4 (Kolesnikov et al. 2020, BiT, sect. 3-4 in small): pre-train a GN + WS
 * `bitResNetSmall` "upstream" on Fashion-MNIST (one run, checkpointed: a rerun does not pre-train
 * again), then per seed transfer it to MNIST digits at each shot count with the BiT-HyperRule
 * (SGD momentum 0.9, no weight decay, the rule's warm-up and /10 steps scaled by `stepsScale`,
 * random `resize -> crop` training crops without flips, test images resized to the crop; a new
 * zero-init head), against the same architecture trained from scratch on the same examples with
 * the same schedule. Then the transfer at the largest shot count is the teacher of a `smallCnn`
 * on the same examples: scratch, KD (0.1 hard + 0.9 soft at T) and KD + CRD (+ 0.8 crd), with the
 * rule's schedule at `studentLr`. The seed sets the few-shot draw, the crops and batch order and
 * the initialisation (the heads are zero). Writes `<dir>/bit-transfer.json` and
 * `<dir>/bit-transfer.md`; resumable (see {@link Results}).
 */
export async function runBitTransfer(size: Size, dir: string, options: RunOptions = {}): Promise<BitTransferResult> {
  return runBitTransferWith(BIT_TRANSFER_SIZES[size], size, dir, options);
}

/** {@link runBitTransfer} at any configuration (`label` names it in the report). */
export async function runBitTransferWith(
  config: BitTransferConfig,
  label: string,
  dir: string,
  options: RunOptions = {},
): Promise<BitTransferResult> {
  const log = options.log ?? (() => {});
  const results = new Results(dir, { experiment: 'bit-transfer', size: label, config });
  const started = performance.now();
  const before = load();
  const resnet = (seed: number) => downstreamResNet(config, seed);
  // SGD with momentum 0.9; the HyperRule's schedule sets the rate each step.
  const optimizers = new Optimizers(() => sgd({ learningRate: 0, momentum: 0.9 }));
  const preprocess = (flip: boolean) => transferPreprocess(config, flip);
  const evalView = { resize: config.resize, crop: config.crop };

  // Upstream: Fashion-MNIST, flips allowed (as BiT's upstream), one run.
  const { model: upstream, result: upstreamResult } = await pretrainedUpstream(config, results, optimizers.next(), options.directory);
  log(`upstream (Fashion-MNIST): ${(100 * upstreamResult.accuracy).toFixed(2)} %`);

  // Downstream: MNIST digits; the test split is loadMnistDigits' held-out 20 %.
  const digits = loadMnistDigits();
  const testRaw =
    config.testSize >= digits.test.x.shape[0]!
      ? digits.test
      : take(digits.test, new SeededRandom(11).permutation(digits.test.x.shape[0]!).subarray(0, config.testSize));
  const test = bitEvalPreprocess(testRaw, evalView);
  const arms = new Map<string, SeedResult[]>();
  const add = (arm: string, r: SeedResult) => arms.set(arm, [...(arms.get(arm) ?? []), r]);
  const teacherShots = Math.max(...config.shots);
  const rule = (n: number, stepsScale: number, baseLr: number) => downstreamRule(config, n, stepsScale, baseLr);
  const fitRule = (distiller: Distiller, data: LabeledData, r: HyperRule, store: Store) => fitWithRule(config, distiller, data, r, store);
  let teacherRule: HyperRule | undefined;
  let studentRule: HyperRule | undefined;
  for (const seed of SEEDS) {
    let teacher: tfl.LayersModel | undefined;
    let teacherData: LabeledData | undefined;
    for (const shots of config.shots) {
      const data = fewShot(digits.train, shots, seed);
      const r = rule(data.x.shape[0]!, config.stepsScale, config.baseLr);
      if (shots === teacherShots) teacherRule = r;
      for (const kind of ['transfer', 'scratch'] as const) {
        const model = resnet(seed * 100);
        if (kind === 'transfer') copyBody(upstream, model);
        const distiller = new Distiller({ student: model, optimizer: optimizers.next(), seed }).use(preprocess(false)).use(hardLabel());
        const result = await results.arm(`${kind}-${shots}-${seed}`, model, test, (store) => fitRule(distiller, data, r, store));
        add(`${kind === 'transfer' ? 'BiT transfer (upstream Fashion-MNIST)' : 'same ResNet from scratch'}, ${shots} / class`, result);
        log(`seed ${seed}: ${kind} ${shots}/class: ${(100 * result.accuracy).toFixed(2)} %`);
        distiller.dispose();
        if (kind === 'transfer' && shots === teacherShots) teacher = model;
        else model.dispose();
      }
      if (shots === teacherShots) teacherData = data;
      else tf.dispose([data.x, data.y]);
    }
    // Distillation of the transferred teacher into a small CNN, on the teacher's examples.
    const sr = rule(teacherData!.x.shape[0]!, config.studentStepsScale, config.studentLr);
    studentRule = sr;
    add('teacher: BiT transfer', arms.get(`BiT transfer (upstream Fashion-MNIST), ${teacherShots} / class`)!.at(-1)!);
    const kd = (): DistillationPlugin<unknown>[] => [
      hardLabel({ weight: 0.1 }) as DistillationPlugin<unknown>,
      softTargets({ temperature: config.temperature, weight: 0.9 }) as DistillationPlugin<unknown>,
    ];
    const students: Record<string, { teacher: boolean; plugins: () => DistillationPlugin<unknown>[] }> = {
      scratch: { teacher: false, plugins: () => [hardLabel() as DistillationPlugin<unknown>] },
      kd: { teacher: true, plugins: kd },
      'kd-crd': {
        teacher: true,
        plugins: () => [
          ...kd(),
          crd({
            student: 'student_pool',
            teacher: PRE_LOGITS,
            negatives: config.negatives,
            featureDim: config.featureDim,
            weight: 0.8,
          }) as DistillationPlugin<unknown>,
        ],
      },
    };
    const names: Record<string, string> = {
      scratch: 'student CNN, scratch',
      kd: `student CNN, KD (0.1 hard + 0.9 soft, T = ${config.temperature})`,
      'kd-crd': 'student CNN, KD + CRD (+ 0.8 crd)',
    };
    for (const [arm, spec] of Object.entries(students)) {
      // Every student arm starts from the same initial weights.
      const student = smallCnn({ name: 'student', filters: [...config.studentFilters], dense: config.studentDense, seed: seed * 100 + 50 });
      const distiller = new Distiller({ student, optimizer: optimizers.next(), seed, ...(spec.teacher ? { teacher: teacher! } : {}) }).use(
        preprocess(false),
      );
      for (const plugin of spec.plugins()) distiller.use(plugin);
      const result = await results.arm(`student-${arm}-${seed}`, student, test, (store) => fitRule(distiller, teacherData!, sr, store));
      add(names[arm]!, result);
      log(`seed ${seed}: ${names[arm]}: ${(100 * result.accuracy).toFixed(2)} %`);
      distiller.dispose();
      student.dispose();
    }
    teacher!.dispose();
    tf.dispose([teacherData!.x, teacherData!.y]);
  }
  upstream.dispose();
  optimizers.dispose();
  if (testRaw !== digits.test) tf.dispose([testRaw.x, testRaw.y]);
  tf.dispose([digits.train.x, digits.train.y, digits.test.x, digits.test.y, test.x, test.y]);

  const upstreamRow = row(
    `BiT ResNet-v2 (GN + WS, width ${config.width}) pre-trained on ${config.upstreamTrainSize} Fashion-MNIST, ${config.upstreamSteps} steps`,
    [upstreamResult],
  );
  const transferRows: Row[] = [];
  const distilRows: Row[] = [];
  for (const [arm, r] of arms) (arm.includes(' / class') ? transferRows : distilRows).push(row(arm, r));
  const gaps = config.shots.map((shots) => {
    const t = transferRows.find((r) => r.arm.startsWith('BiT') && r.arm.endsWith(`, ${shots} / class`))!;
    const s = transferRows.find((r) => r.arm.startsWith('same') && r.arm.endsWith(`, ${shots} / class`))!;
    return `| ${shots} | ${t.mean.toFixed(2)} ± ${t.std.toFixed(2)} | ${s.mean.toFixed(2)} ± ${s.std.toFixed(2)} | ${(s.mean - t.mean).toFixed(2)} |`;
  });
  const seconds = (performance.now() - started) / 1000;
  const tr = teacherRule!;
  const st = studentRule!;
  const markdown = [
    `Upstream (Fashion-MNIST test, ${config.upstreamTestSize} examples; SGD momentum 0.9, lr ${config.upstreamLr}, batch ${config.upstreamBatchSize}, ${config.resize} -> ${config.crop} crops + flips):`,
    '',
    table([upstreamRow], config.upstreamTestSize),
    '',
    `Transfer to MNIST digits (test: ${config.testSize} held-out digits). HyperRule scaled: boundaries [${tr.boundaries}] (stepsScale ${config.stepsScale}; the rule: 100/200/300/400/500), base lr ${config.baseLr}, batch min(${config.batchSize}, N) (the rule: 512), train random crop ${config.resize} -> ${config.crop} (the rule: 160 -> 128), no flips (digits), test resized to ${config.crop}, MixUp 0 (< 20 000 examples), zero-init head:`,
    '',
    table(transferRows, config.testSize),
    '',
    '| examples / class | transfer error % | scratch error % | scratch - transfer |',
    '|---:|---:|---:|---:|',
    ...gaps,
    '',
    `Distillation on the ${teacherShots} / class examples (teacher: that seed's BiT transfer; student smallCnn [${config.studentFilters}] dense ${config.studentDense}; HyperRule schedule [${st.boundaries}] at base lr ${config.studentLr}; CRD K = ${config.negatives}, d = ${config.featureDim}):`,
    '',
    table(distilRows, config.testSize),
    '',
    `Size ${label}: seeds ${SEEDS.join(', ')}; ${seconds.toFixed(1)} s wall; ${before} at the start, ${load()} at the end.`,
  ].join('\n');
  const rows = { upstream: upstreamRow, transfer: transferRows, distil: distilRows };
  await writeReport(dir, 'bit-transfer', { size: label, config, seeds: SEEDS, ...rows, seconds, load: before }, markdown);
  return { config, upstream: upstreamRow, transfer: transferRows, distil: distilRows, table: markdown, seconds, load: before };
}
