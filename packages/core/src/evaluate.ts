import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import type { LabeledData } from './batch';
import { validateData } from './data';
import type { EvaluationResult } from './events';
import { optionsSchema, parseOptions } from './options';
import { checkSource, type DataSource, isDataSource, readChecked } from './source';
import { type TeacherLike, toTeacher } from './teacher';

/** Options of {@link evaluateModel}. */
export interface EvaluateOptions {
  /** Examples per forward pass. Default 256. */
  readonly batchSize?: number;
}

/** Schema of {@link EvaluateOptions}. */
export const evaluateOptionsSchema = optionsSchema<EvaluateOptions>()({ batchSize: z.number().int().positive().default(256) });

/**
 * Top-1 accuracy and mean cross-entropy of a model (any {@link TeacherLike}: student, teacher,
 * ensemble) on labelled data (tensors or a {@link DataSource}, read in order), in inference
 * mode. Leaves no tensors behind.
 */
export async function evaluateModel(
  model: TeacherLike,
  data: LabeledData | DataSource,
  options: EvaluateOptions = {},
): Promise<EvaluationResult> {
  const { batchSize } = parseOptions(evaluateOptionsSchema, options, 'evaluate');
  const teacher = toTeacher(model);
  if (isDataSource(data))
    return evaluateSource(teacher, data, batchSize, model instanceof tfl.LayersModel ? model.inputs[0]?.shape : undefined);
  const inputShape = model instanceof tfl.LayersModel ? model.inputs[0]?.shape : undefined;
  const n = data?.x?.shape[0] ?? 0;
  const probe = n > 0 ? tf.tidy(() => teacher.predict(tf.slice(data.x, 0, 1)).logits) : undefined;
  const classes = probe?.shape[1] ?? 0;
  probe?.dispose();
  validateData(data, 'evaluation data', classes, inputShape);
  let correct = 0;
  let lossSum = 0;
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const [hits, loss] = tf.tidy(() => {
      const x = tf.slice(data.x, start, size);
      const y = tf.cast(tf.slice(data.y, start, size), 'int32');
      const logits = teacher.predict(x).logits;
      const hit = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'int32'));
      const ce = tf.neg(tf.sum(tf.mul(tf.oneHot(y as tf.Tensor1D, classes), tf.logSoftmax(logits))));
      return [hit, ce];
    });
    const [h, l] = await Promise.all([hits.data(), loss.data()]);
    hits.dispose();
    loss.dispose();
    correct += h[0]!;
    lossSum += l[0]!;
  }
  return { accuracy: correct / n, loss: lossSum / n };
}

/** {@link evaluateModel} over a source: batches of consecutive positions, each checked as it is read. */
async function evaluateSource(
  teacher: ReturnType<typeof toTeacher>,
  source: DataSource,
  batchSize: number,
  inputShape: readonly (number | null)[] | undefined,
): Promise<EvaluationResult> {
  const first = await readChecked(source, Int32Array.of(0), 'evaluation data', {
    numClasses: Number.POSITIVE_INFINITY,
    exampleShape: inputShape?.slice(1),
  });
  const classes = tf.tidy(() => teacher.predict(first.x).logits.shape[1] ?? 0);
  tf.dispose([first.x, first.y, ...(first.teacherX ? [first.teacherX] : [])]);
  checkSource(source, 'evaluation data', classes);
  const n = source.size;
  let correct = 0;
  let lossSum = 0;
  for (let start = 0; start < n; start += batchSize) {
    const positions = Int32Array.from({ length: Math.min(batchSize, n - start) }, (_, i) => start + i);
    const batch = await readChecked(source, positions, 'evaluation data', { numClasses: classes, exampleShape: inputShape?.slice(1) });
    const [hits, loss] = tf.tidy(() => {
      const y = tf.cast(batch.y, 'int32') as tf.Tensor1D;
      const logits = teacher.predict(batch.x).logits;
      const hit = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'int32'));
      const ce = tf.neg(tf.sum(tf.mul(tf.oneHot(y, classes), tf.logSoftmax(logits))));
      return [hit, ce];
    });
    tf.dispose([batch.x, batch.y, ...(batch.teacherX ? [batch.teacherX] : [])]);
    const [h, l] = await Promise.all([hits.data(), loss.data()]);
    tf.dispose([hits, loss]);
    correct += h[0]!;
    lossSum += l[0]!;
  }
  return { accuracy: correct / n, loss: lossSum / n };
}
