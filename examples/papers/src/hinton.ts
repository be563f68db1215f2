import { Distiller, hardLabel, softTargets } from '@kd/core';
import { augment, subset } from '@kd/data';
import { mlp } from '@kd/models';
import * as tf from '@tensorflow/tfjs-core';
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

/** The sizes of experiment 2 (Hinton et al. 2015, sect. 3 and 6, on Fashion-MNIST). */
export interface HintonConfig {
  readonly trainSize: number;
  readonly testSize: number;
  readonly teacherHidden: readonly number[];
  readonly studentHidden: readonly number[];
  /** Dropout after each hidden layer of the teacher (seeded: `SeededDropout`). */
  readonly teacherDropout: number;
  /** Input jitter of the teacher, pixels. */
  readonly jitter: number;
  readonly teacherEpochs: number;
  readonly studentEpochs: number;
  /** Epochs of the 3 % runs (they see 33x fewer examples per epoch). */
  readonly fewEpochs: number;
  readonly batchSize: number;
  readonly temperature: number;
  /** Fraction of the training set of the "soft targets as regulariser" runs. */
  readonly fraction: number;
}

/** `full`: the paper's nets (784-1200-1200-10 teacher, 784-800-800-10 student) on all 60 000; `small`: seconds. */
export const HINTON_SIZES: Readonly<Record<Size, HintonConfig>> = {
  full: {
    trainSize: 60_000,
    testSize: 10_000,
    teacherHidden: [1200, 1200],
    studentHidden: [800, 800],
    teacherDropout: 0.3,
    jitter: 1,
    teacherEpochs: 20,
    studentEpochs: 10,
    fewEpochs: 60,
    batchSize: 100,
    temperature: 20,
    fraction: 0.03,
  },
  small: {
    trainSize: 1000,
    testSize: 500,
    teacherHidden: [96, 96],
    studentHidden: [32, 32],
    teacherDropout: 0.5,
    jitter: 2,
    teacherEpochs: 3,
    studentEpochs: 3,
    fewEpochs: 6,
    batchSize: 50,
    temperature: 20,
    fraction: 0.03,
  },
};

export interface HintonResult {
  readonly config: HintonConfig;
  readonly rows: readonly Row[];
  readonly table: string;
  readonly seconds: number;
  readonly load: string;
}

/**
 * Experiment 2, per seed: the teacher (dropout + input jitter, hard labels), the student from
 * scratch (hard labels) and distilled (0.1 hard + 0.9 soft at T, `softTargets` scales by T²); then
 * on a `fraction` subset of the training set, the student with hard labels only and with the
 * full-data teacher's soft targets only (Hinton's sect. 6: soft targets as a regulariser).
 * Adam 1e-3. Writes `<dir>/hinton.json` and `<dir>/hinton.md`; resumable (see {@link Results}).
 */
export async function runHinton(
  size: Size,
  dir: string,
  options: { directory?: string; log?: (s: string) => void } = {},
): Promise<HintonResult> {
  const config = HINTON_SIZES[size];
  const log = options.log ?? (() => {});
  const results = new Results(dir, { experiment: 'hinton', size, config });
  const started = performance.now();
  const before = load();
  const arms: Record<string, SeedResult[]> = { teacher: [], scratch: [], kd: [], few: [], fewSoft: [] };
  for (const seed of SEEDS) {
    const { train, test } = await fashion(config.trainSize, config.testSize, seed, options.directory);
    const few = subset(train, Math.max(config.batchSize, Math.round(config.fraction * config.trainSize)), seed + 7);
    const init = seed * 100;
    const teacher = mlp({ name: 'teacher', hidden: config.teacherHidden, dropout: config.teacherDropout, seed: init });
    const optimizers = new AdamOptimizers();
    const teacherRun = new Distiller({ student: teacher, optimizer: optimizers.next(), seed })
      .use(augment({ jitter: { pixels: config.jitter } }))
      .use(hardLabel());
    arms.teacher!.push(
      await results.arm(`teacher-${seed}`, teacher, test, fitWith(teacherRun, train, config.teacherEpochs, config.batchSize)),
    );
    log(`seed ${seed}: teacher ${(100 * arms.teacher!.at(-1)!.accuracy).toFixed(2)} %`);
    const students = {
      scratch: {
        data: train,
        epochs: config.studentEpochs,
        distiller: (s: tf.Optimizer, m: ReturnType<typeof mlp>) => new Distiller({ student: m, optimizer: s, seed }).use(hardLabel()),
      },
      kd: {
        data: train,
        epochs: config.studentEpochs,
        distiller: (s: tf.Optimizer, m: ReturnType<typeof mlp>) =>
          new Distiller({ student: m, teacher, optimizer: s, seed })
            .use(hardLabel({ weight: 0.1 }))
            .use(softTargets({ temperature: config.temperature, weight: 0.9 })),
      },
      few: {
        data: few,
        epochs: config.fewEpochs,
        distiller: (s: tf.Optimizer, m: ReturnType<typeof mlp>) => new Distiller({ student: m, optimizer: s, seed }).use(hardLabel()),
      },
      fewSoft: {
        data: few,
        epochs: config.fewEpochs,
        distiller: (s: tf.Optimizer, m: ReturnType<typeof mlp>) =>
          new Distiller({ student: m, teacher, optimizer: s, seed }).use(softTargets({ temperature: config.temperature, weight: 1 })),
      },
    };
    const distillers: Distiller[] = [teacherRun];
    for (const [arm, spec] of Object.entries(students)) {
      // Every student arm starts from the same initial weights.
      const student = mlp({ name: `student_${arm}`, hidden: config.studentHidden, seed: init + 50 });
      const distiller = spec.distiller(optimizers.next(), student);
      distillers.push(distiller);
      arms[arm]!.push(await results.arm(`${arm}-${seed}`, student, test, fitWith(distiller, spec.data, spec.epochs, config.batchSize)));
      student.dispose();
    }
    for (const d of distillers) d.dispose();
    teacher.dispose();
    optimizers.dispose();
    tf.dispose([train.x, train.y, test.x, test.y, few.x, few.y]);
  }
  const t = config.teacherHidden.join('-');
  const s = config.studentHidden.join('-');
  const pct = `${Math.round(config.fraction * 100)} %`;
  const rows = [
    row(`teacher 784-${t}-10, dropout ${config.teacherDropout} + jitter ${config.jitter} px`, arms.teacher!),
    row(`student 784-${s}-10, scratch`, arms.scratch!),
    row(`student 784-${s}-10, KD (T = ${config.temperature})`, arms.kd!),
    row(`student, ${pct} of the training set, hard labels`, arms.few!),
    row(`student, ${pct} of the training set, soft targets only (T = ${config.temperature})`, arms.fewSoft!),
  ];
  const seconds = (performance.now() - started) / 1000;
  const markdown = `${table(rows, config.testSize)}\n\nSize ${size}: ${config.trainSize} training examples, seeds ${SEEDS.join(', ')}; ${seconds.toFixed(1)} s wall; ${before} at the start, ${load()} at the end.`;
  await writeReport(dir, 'hinton', { size, config, seeds: SEEDS, rows, seconds, load: before }, markdown);
  return { config, rows, table: markdown, seconds, load: before };
}
