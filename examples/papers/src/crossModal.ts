import { Distiller, evaluateModel, hardLabel, type LabeledData, softTargets } from '@kd/core';
import { crd } from '@kd/crd';
import { subset } from '@kd/data';
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
import type { TeacherStudentSizes } from './crdShared';
import type { RunOptions } from './experiment';
// ---------------------------------------------------------------------------------------------
// Experiment 5b: cross-modal CRD
// ---------------------------------------------------------------------------------------------

/** The sizes of the cross-modal experiment (teacher on full images, student on a downsampled view). */
export interface CrossModalConfig extends TeacherStudentSizes {
  /** The student's view: the image average-pooled over `pool x pool` blocks (28 / 4 = 7x7); the transfer set pairs each view with its full image. */
  readonly pool: number;
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
    const optimizers = new AdamOptimizers();
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
