import { z } from 'zod';
import { CliError } from '../errors';
import { parseRunJson, schemaError } from './runFileErrors';

/** A run's `predictions.json`: the evaluation split's labels and the models' logits on it. */
export interface PredictionsFile {
  /** Number of classes. */
  readonly classes: number;
  /** The split the logits are of; `'test'` when absent. */
  readonly split?: 'test' | 'validation';
  /** A name per class, when the data set has them. */
  readonly classNames?: readonly string[];
  /** True class of each test example. */
  readonly labels: readonly number[];
  /** Student logits, one row of `classes` values per example. */
  readonly student: readonly (readonly number[])[];
  /** Teacher logits in the same layout, when the run had a teacher. */
  readonly teacher?: readonly (readonly number[])[];
}

const logitRows = z.array(z.array(z.number()));

const predictionsSchema = z.object({
  classes: z.number().int().min(1),
  classNames: z.array(z.string()).optional(),
  split: z.enum(['test', 'validation']).optional(),
  labels: z.array(z.number().int().nonnegative()).min(1, { message: 'must hold at least one example' }),
  student: logitRows,
  teacher: logitRows.optional(),
});

/**
 * Reads the text of a run's `predictions.json`.
 *
 * @param text The file's content.
 * @param where How errors name the file.
 * @throws CliError `bad-run` naming the file and the field: not JSON, a field of the wrong type,
 *   a label out of range, class names or logit rows of another count than the labels and classes.
 */
export function parseRunPredictions(text: string, where: string): PredictionsFile {
  const parsed = predictionsSchema.safeParse(parseRunJson(text, where));
  if (!parsed.success) throw schemaError(parsed.error, where);
  const { classes, classNames, split, labels, student, teacher } = parsed.data;
  const bad = (message: string): CliError => new CliError('bad-run', `${where}: ${message}.`);
  if (classNames && classNames.length !== classes) throw bad(`classNames has ${classNames.length} names for ${classes} classes`);
  const label = labels.findIndex((l) => l >= classes);
  if (label >= 0) throw bad(`labels[${label}] is ${labels[label]}, not a class of 0..${classes - 1}`);
  const checkRows = (rows: readonly (readonly number[])[], name: string): void => {
    if (rows.length !== labels.length) throw bad(`${name} has ${rows.length} rows of logits for ${labels.length} labels`);
    const row = rows.findIndex((r) => r.length !== classes);
    if (row >= 0) throw bad(`${name}[${row}] has ${rows[row]!.length} logits, expected ${classes} (classes)`);
  };
  checkRows(student, 'student');
  if (teacher) checkRows(teacher, 'teacher');
  return {
    classes,
    ...(classNames ? { classNames } : {}),
    ...(split ? { split } : {}),
    labels,
    student,
    ...(teacher ? { teacher } : {}),
  };
}
