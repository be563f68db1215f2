import {
  BatchReader,
  batchTensors,
  checkSource,
  type DataSource,
  DistillationError,
  isDataSource,
  isLabeledData,
  type LabeledData,
  optionsSchema,
  parseOptions,
  type TeacherBatch,
  type TeacherLike,
  toTeacher,
} from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { checkGeneralist } from './combine';
import { SpecialistsError } from './errors';
import { integer } from './schemas';

/** Options of {@link generalistProbabilities}. */
export interface GeneralistProbabilitiesOptions {
  /** Examples per forward pass. Default 256. */
  readonly batchSize?: number;
}

/** Schema of {@link GeneralistProbabilitiesOptions} (defaults applied). */
export const generalistProbabilitiesSchema = optionsSchema<GeneralistProbabilitiesOptions>()({
  batchSize: integer(1).default(256),
});

/**
 * The generalist's predicted probabilities `softmax(logits)` `[N, classes]` on every example of
 * `data`, in order (inference mode): what {@link confusableSubsets} clusters. `data` is an input
 * tensor `[N, ...]`, `{ x, y }` tensors (`x` is used) or a `DataSource`, read batch by batch in
 * position order (random access or front to back; only the `[N, classes]` result is kept). Pass
 * the same source as `confusableSubsets`' `labels` for `method: 'confusion'`. The generalist gets
 * each batch's ids (`@kd/core`'s `TeacherBatch`: the positions for tensors, the source's ids for a
 * `DataSource`), so a teacher that looks its outputs up by id (a stored teacher) works.
 *
 * Checks before any work: the options (`unknown-option`, `bad-option`), the generalist (core's
 * `bad-teacher`), the data (core's `bad-data` / `empty-data`, or `checkSource`'s `bad-source` /
 * `bad-input-shape` against a LayersModel's input) and its logits (`bad-probabilities` unless
 * `[batch, classes]`). Returns a new tensor: the caller disposes it.
 *
 * @example
 * ```ts
 * const probs = await generalistProbabilities(generalist, source);
 * const subsets = confusableSubsets(probs, { clusters: 3, method: 'confusion', labels: source });
 * probs.dispose();
 * ```
 */
export async function generalistProbabilities(
  generalist: TeacherLike,
  data: tf.Tensor | LabeledData | DataSource,
  options: GeneralistProbabilitiesOptions = {},
): Promise<tf.Tensor2D> {
  const { batchSize } = parseOptions(generalistProbabilitiesSchema, options, 'generalistProbabilities');
  checkGeneralist(generalist, 'generalistProbabilities');
  const teacher = toTeacher(generalist);
  const inputShape = generalist instanceof tfl.LayersModel ? generalist.inputs[0]?.shape.slice(1) : undefined;
  const probabilities = (x: tf.Tensor, batch: TeacherBatch): tf.Tensor2D =>
    tf.tidy(() => {
      const logits = teacher.predict(x, batch).logits;
      if (logits.rank !== 2 || logits.shape[0] !== x.shape[0]) {
        throw new SpecialistsError(
          'bad-probabilities',
          `generalistProbabilities: the generalist's logits have shape [${logits.shape}] for ${x.shape[0]} examples; expected [${x.shape[0]}, classes]`,
        );
      }
      return tf.softmax(logits as tf.Tensor2D);
    });

  if (!isDataSource(data)) {
    const x = data instanceof tf.Tensor ? data : isLabeledData(data) ? data.x : undefined;
    if (!x || x.rank < 1) {
      throw new DistillationError(
        'bad-data',
        `generalistProbabilities: data must be an input tensor [N, ...], { x, y } tensors or a DataSource, got ${data === null ? 'null' : typeof data}`,
      );
    }
    const n = x.shape[0]!;
    if (n === 0) throw new DistillationError('empty-data', 'generalistProbabilities: the data has no examples');
    const parts: tf.Tensor2D[] = [];
    try {
      for (let start = 0; start < n; start += batchSize) {
        const size = Math.min(batchSize, n - start);
        const ids = Array.from({ length: size }, (_, i) => start + i);
        parts.push(tf.tidy(() => probabilities(tf.slice(x, start, size), { ids })));
      }
      return parts.length === 1 ? parts.shift()! : tf.concat(parts, 0);
    } finally {
      tf.dispose(parts);
    }
  }

  const source = data;
  const what = 'generalistProbabilities: data';
  checkSource(source, what, Number.POSITIVE_INFINITY, inputShape ? { exampleShape: inputShape } : {});
  const n = source.size;
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const reader = new BatchReader(source, { order, batchSize, prefetch: 2, what, numClasses: Number.POSITIVE_INFINITY });
  let rows: Float32Array | undefined;
  let classes = 0;
  try {
    for (let start = 0; start < n; start += batchSize) {
      const { batch } = await reader.next();
      const p = tf.tidy(() => probabilities(batchTensors(source, batch).x, { ids: batch.ids }));
      const values = await p.data();
      p.dispose();
      if (rows && p.shape[1] !== classes) {
        throw new SpecialistsError(
          'bad-probabilities',
          `generalistProbabilities: the generalist gives ${p.shape[1]} classes for the batch at position ${start}, ${classes} before`,
        );
      }
      classes = p.shape[1];
      rows ??= new Float32Array(n * classes);
      rows.set(values as Float32Array, start * classes);
    }
  } finally {
    await reader.close();
  }
  return tf.tensor2d(rows!, [n, classes]);
}
