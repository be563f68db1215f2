import { Distiller, ensembleTeacher, evaluateModel, hardLabel, memoryTeacherCacheStore, softTargets } from '@kd/core';
import { trainValidationSplit } from '@kd/data';
import { mlp } from '@kd/models';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  AdamOptimizers,
  fashion,
  fitWith,
  load,
  meanStd,
  Results,
  type Row,
  row,
  SEEDS,
  type SeedResult,
  type Size,
  table,
  writeReport,
} from './common';
import type { RunOptions } from './experiment';

/** The sizes of experiment 1 (Hinton et al. 2015, sect. 4: an ensemble distilled into one model, on Fashion-MNIST). */
export interface EnsembleConfig {
  /** Training examples drawn from Fashion-MNIST's 60 000 (seeded), before the validation split. */
  readonly trainSize: number;
  /** Share of those held out (seeded) to choose the temperature; nothing trains on it. */
  readonly validationFraction: number;
  readonly testSize: number;
  /** Hidden layers of every model: the members and the distilled one share the architecture. */
  readonly hidden: readonly number[];
  /** Members of the ensemble. */
  readonly members: number;
  /** Epochs of every model (members and each distilled candidate). */
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  /** The temperatures tried; the one with the best validation accuracy is reported. */
  readonly temperatures: readonly number[];
  /** Weight of the hard-label term of the distilled model; the soft term gets `1 - hardWeight` (T² scaled). */
  readonly hardWeight: number;
}

/** `full`: all 60 000 (54 000 train + 6 000 validation), ten 784-512-512-10 MLPs; `small`: seconds, as in the tests. */
export const ENSEMBLE_SIZES: Readonly<Record<Size, EnsembleConfig>> = {
  full: {
    trainSize: 60_000,
    validationFraction: 0.1,
    testSize: 10_000,
    hidden: [512, 512],
    members: 10,
    epochs: 4,
    batchSize: 128,
    learningRate: 1e-3,
    temperatures: [1, 2, 5, 10],
    hardWeight: 0.5,
  },
  small: {
    trainSize: 400,
    validationFraction: 0.25,
    testSize: 300,
    hidden: [16],
    members: 10,
    epochs: 2,
    batchSize: 25,
    learningRate: 3e-3,
    temperatures: [1, 2, 5, 10],
    hardWeight: 0.5,
  },
};

/** One seed's temperature search and gain. */
export interface EnsembleSeedDetail {
  readonly seed: number;
  /** Validation accuracy of the distilled model at each temperature of the grid, in the grid's order. */
  readonly validationAccuracy: readonly number[];
  /** The temperature with the best validation accuracy (the first on ties). */
  readonly temperature: number;
  /** Test accuracy of every member, in member order. */
  readonly memberAccuracy: readonly number[];
  /**
   * (single error − distilled error) / (single error − arithmetic-ensemble error): 1 when the
   * distilled model matches its teacher, 0 when it is no better than a single model.
   */
  readonly gainRecovered: number;
}

export interface EnsembleResult {
  readonly config: EnsembleConfig;
  readonly rows: readonly Row[];
  readonly seeds: readonly EnsembleSeedDetail[];
  readonly table: string;
  readonly seconds: number;
  readonly load: string;
}

/** The initial-weight (and batch-order) seed of member `i` of `seed`'s ensemble; `mlp` uses seed + layer, so members are 10 apart. */
export function memberSeed(seed: number, i: number): number {
  return seed * 1000 + 10 * i;
}

/**
 * Experiment 1, per seed: `members` MLPs of one architecture trained with hard labels from
 * different seeds (initial weights and batch order, {@link memberSeed}); the single model's error
 * is their mean; the ensemble's with the arithmetic mean of their probabilities and with the
 * geometric mean (mean of log-probabilities, renormalised), both `ensembleTeacher`; and one model
 * of the same architecture distilled from the arithmetic ensemble (`hardWeight` hard +
 * `1 - hardWeight` soft at T, T² scaled, as the paper's 0.5) at each temperature of the grid, the
 * one best on the held-out validation split reported. Adam. Writes `<dir>/ensemble.json` and
 * `<dir>/ensemble.md`; every member and candidate is an arm of {@link Results}, so a rerun resumes.
 */
export async function runEnsemble(size: Size, dir: string, options: RunOptions = {}): Promise<EnsembleResult> {
  const config = ENSEMBLE_SIZES[size];
  const log = options.log ?? (() => {});
  const results = new Results(dir, { experiment: 'ensemble', size, config });
  const started = performance.now();
  const before = load();
  const arms: Record<'single' | 'arithmetic' | 'geometric' | 'distilled', SeedResult[]> = {
    single: [],
    arithmetic: [],
    geometric: [],
    distilled: [],
  };
  const details: EnsembleSeedDetail[] = [];
  for (const seed of SEEDS) {
    const drawn = await fashion(config.trainSize, config.testSize, seed, options.directory);
    const { train, validation } = trainValidationSplit(drawn.train, config.validationFraction, seed);
    const test = drawn.test;
    tf.dispose([drawn.train.x, drawn.train.y]);
    const optimizers = new AdamOptimizers(config.learningRate);
    const distillers: Distiller[] = [];
    const models: tfl.LayersModel[] = [];

    const members: tfl.LayersModel[] = [];
    const memberResults: SeedResult[] = [];
    for (let i = 0; i < config.members; i++) {
      const init = memberSeed(seed, i);
      const member = mlp({ name: `member${i}`, hidden: config.hidden, seed: init });
      const distiller = new Distiller({ student: member, optimizer: optimizers.next(), seed: init }).use(hardLabel());
      members.push(member);
      distillers.push(distiller);
      memberResults.push(
        await results.arm(`member-${seed}-${i}`, member, test, fitWith(distiller, train, config.epochs, config.batchSize)),
      );
    }
    const memberAccuracy = memberResults.map((r) => r.accuracy);
    arms.single.push({ accuracy: meanStd(memberAccuracy).mean, seconds: memberResults.reduce((a, r) => a + r.seconds, 0) });
    const ensembleSeconds = arms.single.at(-1)!.seconds;
    for (const mean of ['arithmetic', 'geometric'] as const) {
      const { accuracy } = await evaluateModel(ensembleTeacher(members, { mean }), test);
      arms[mean].push({ accuracy, seconds: ensembleSeconds });
    }
    log(
      `seed ${seed}: members ${memberAccuracy.map((a) => (100 * a).toFixed(2)).join(' ')} %; ensemble arithmetic ${(100 * arms.arithmetic.at(-1)!.accuracy).toFixed(2)} %, geometric ${(100 * arms.geometric.at(-1)!.accuracy).toFixed(2)} %`,
    );

    // The teacher's outputs are computed once per seed and shared by the candidates.
    const teacherCache = memoryTeacherCacheStore();
    const teacher = ensembleTeacher(members, { mean: 'arithmetic' });
    const candidates: { model: tfl.LayersModel; validation: SeedResult }[] = [];
    for (const temperature of config.temperatures) {
      // Every candidate starts from the same initial weights, those of no member.
      const student = mlp({ name: `distilled_T${temperature}`, hidden: config.hidden, seed: seed * 1000 + 500 });
      const distiller = new Distiller({ student, teacher, optimizer: optimizers.next(), seed: seed * 1000 + 500, teacherCache })
        .use(hardLabel({ weight: config.hardWeight }))
        .use(softTargets({ temperature, weight: 1 - config.hardWeight }));
      models.push(student);
      distillers.push(distiller);
      const result = await results.arm(
        `distilled-${seed}-T${temperature}`,
        student,
        validation,
        fitWith(distiller, train, config.epochs, config.batchSize),
      );
      candidates.push({ model: student, validation: result });
      log(`seed ${seed}: distilled at T = ${temperature}: validation ${(100 * result.accuracy).toFixed(2)} %`);
    }
    const validationAccuracy = candidates.map((c) => c.validation.accuracy);
    const best = validationAccuracy.indexOf(Math.max(...validationAccuracy));
    const chosen = candidates[best]!;
    const { accuracy } = await evaluateModel(chosen.model, test);
    arms.distilled.push({ accuracy, seconds: chosen.validation.seconds });
    const single = 1 - arms.single.at(-1)!.accuracy;
    const ensemble = 1 - arms.arithmetic.at(-1)!.accuracy;
    details.push({
      seed,
      validationAccuracy,
      temperature: config.temperatures[best]!,
      memberAccuracy,
      gainRecovered: (single - (1 - accuracy)) / (single - ensemble),
    });
    log(`seed ${seed}: chose T = ${config.temperatures[best]}, distilled test ${(100 * accuracy).toFixed(2)} %`);

    for (const d of distillers) d.dispose();
    for (const m of [...members, ...models]) m.dispose();
    optimizers.dispose();
    tf.dispose([train.x, train.y, validation.x, validation.y, test.x, test.y]);
  }
  const net = `784-${config.hidden.join('-')}-10`;
  const rows = [
    row(`single ${net} (mean of the ${config.members} members)`, arms.single),
    row(`ensemble of ${config.members}, arithmetic mean of probabilities`, arms.arithmetic),
    row(`ensemble of ${config.members}, geometric mean (renormalised)`, arms.geometric),
    row(`distilled ${net} from the arithmetic ensemble (T on validation)`, arms.distilled),
  ];
  const seconds = (performance.now() - started) / 1000;
  const nValidation = Math.round(config.validationFraction * config.trainSize);
  const gains = details.map((d) => d.gainRecovered);
  const gain = meanStd(gains);
  const markdown = [
    table(rows, config.testSize),
    '',
    `| T | validation error % (${nValidation}) of the distilled model, per seed | mean |`,
    '|---:|---|---:|',
    ...config.temperatures.map((t, k) => {
      const errors = details.map((d) => 100 * (1 - d.validationAccuracy[k]!));
      return `| ${t} | ${errors.map((e) => e.toFixed(2)).join(' / ')} | ${meanStd(errors).mean.toFixed(2)} |`;
    }),
    '',
    `Chosen T per seed: ${details.map((d) => `${d.seed}: ${d.temperature}`).join(', ')}. Fraction of the ensemble's gain over a single model recovered by the distilled one, (single − distilled) / (single − arithmetic ensemble): ${details.map((d) => `${d.seed}: ${d.gainRecovered.toFixed(2)}`).join(', ')} (mean ${gain.mean.toFixed(2)} ± ${gain.std.toFixed(2)}). Members' test error range per seed: ${details.map((d) => `${d.seed}: ${(100 * (1 - Math.max(...d.memberAccuracy))).toFixed(2)}–${(100 * (1 - Math.min(...d.memberAccuracy))).toFixed(2)}`).join(', ')} %. Train s of the ensemble rows: their members'; of the distilled row: the chosen candidate's (the grid trains ${config.temperatures.length}).`,
    '',
    `Size ${size}: ${config.trainSize - nValidation} training + ${nValidation} validation examples, ${config.members} members, ${config.epochs} epochs, batch ${config.batchSize}, Adam ${config.learningRate}, distilled ${config.hardWeight} hard + ${1 - config.hardWeight} soft; seeds ${SEEDS.join(', ')}; ${seconds.toFixed(1)} s wall; ${before} at the start, ${load()} at the end.`,
  ].join('\n');
  await writeReport(dir, 'ensemble', { size, config, seeds: SEEDS, rows, details, seconds, load: before }, markdown);
  return { config, rows, seeds: details, table: markdown, seconds, load: before };
}
