import { BatchReader, batchTensors, isDataSource, type TeacherLike, toTeacher } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import type { Split } from './buildData';
import { splitSize } from './buildData';

/** Logits of every example of a split, with its labels, in order. */
export interface SplitPredictions {
  readonly labels: number[];
  readonly logits: number[][];
}

/**
 * Runs `models` (students or teachers) over a split in order, in inference mode, and returns
 * each model's logits with the split's labels. Leaves no tensors behind.
 */
export async function predictSplit(
  models: readonly TeacherLike[],
  split: Split,
  classes: number,
  batchSize = 256,
): Promise<SplitPredictions[]> {
  const teachers = models.map((m) => toTeacher(m));
  const n = splitSize(split);
  const labels: number[] = [];
  const logits: number[][][] = models.map(() => []);
  const collect = async (x: tf.Tensor, y: tf.Tensor, ids: readonly (string | number)[]) => {
    labels.push(...(await y.data()));
    for (const [m, teacher] of teachers.entries()) {
      const out = tf.tidy(() => teacher.predict(x, { ids: [...ids] }).logits);
      const rows = (await out.array()) as number[][];
      out.dispose();
      logits[m]!.push(...rows);
    }
  };
  if (isDataSource(split)) {
    const order = Int32Array.from({ length: n }, (_, i) => i);
    const reader = new BatchReader(split, { order, batchSize, prefetch: 2, what: 'prediction data', numClasses: classes });
    try {
      for (let start = 0; start < n; start += batchSize) {
        const { batch } = await reader.next();
        const { x, y } = batchTensors(split, batch);
        try {
          await collect(x, y, batch.ids);
        } finally {
          tf.dispose([x, y]);
        }
      }
    } finally {
      await reader.close();
    }
  } else {
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      const x = tf.slice(split.x, start, size);
      const y = tf.slice(split.y, start, size);
      try {
        await collect(
          x,
          y,
          Array.from({ length: size }, (_, i) => start + i),
        );
      } finally {
        tf.dispose([x, y]);
      }
    }
  }
  return logits.map((rows) => ({ labels, logits: rows }));
}
