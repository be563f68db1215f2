import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import type { LabeledData } from './batch';
import { BatchReader } from './batchReader';
import { validateData } from './data';
import type { EvaluationResult } from './events';
import { optionsSchema, parseOptions } from './options';
import { batchTensors, checkSource, type DataSource, isDataSource } from './source';
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
  const probe =
    teacher.numClasses === undefined && n > 0 ? tf.tidy(() => teacher.predict(tf.slice(data.x, 0, 1), { ids: [0] }).logits) : undefined;
  const classes = teacher.numClasses ?? probe?.shape[1] ?? 0;
  probe?.dispose();
  validateData(data, 'evaluation data', classes, inputShape);
  let correct = 0;
  let lossSum = 0;
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const [hits, loss] = tf.tidy(() => {
      const x = tf.slice(data.x, start, size);
      const y = tf.cast(tf.slice(data.y, start, size), 'int32');
      const logits = teacher.predict(x, { ids: Array.from({ length: size }, (_, i) => start + i) }).logits;
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

/** {@link evaluateModel} over a source: batches in position order, read ahead, each checked as it is read. */
async function evaluateSource(
  teacher: ReturnType<typeof toTeacher>,
  source: DataSource,
  batchSize: number,
  inputShape: readonly (number | null)[] | undefined,
): Promise<EvaluationResult> {
  checkSource(source, 'evaluation data', Number.POSITIVE_INFINITY, { exampleShape: inputShape?.slice(1) });
  const classes = teacher.numClasses ?? tf.tidy(() => teacher.predict(tf.zeros([1, ...source.exampleShape])).logits.shape[1] ?? 0);
  checkSource(source, 'evaluation data', classes);
  const n = source.size;
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const reader = new BatchReader(source, { order, batchSize, prefetch: 2, what: 'evaluation data', numClasses: classes });
  let correct = 0;
  let lossSum = 0;
  try {
    for (let start = 0; start < n; start += batchSize) {
      const { batch } = await reader.next();
      const [hits, loss] = tf.tidy(() => {
        const { x, y } = batchTensors(source, batch);
        const logits = teacher.predict(x, { ids: batch.ids }).logits;
        const hit = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'int32'));
        const ce = tf.neg(tf.sum(tf.mul(tf.oneHot(y, classes), tf.logSoftmax(logits))));
        return [hit, ce];
      });
      const [h, l] = await Promise.all([hits.data(), loss.data()]);
      tf.dispose([hits, loss]);
      correct += h[0]!;
      lossSum += l[0]!;
    }
  } finally {
    await reader.close();
  }
  return { accuracy: correct / n, loss: lossSum / n };
}
