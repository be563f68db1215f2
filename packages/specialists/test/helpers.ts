import '@tensorflow/tfjs-backend-cpu';
import type { RandomAccessSource, SequentialSource, SourceBatch } from '@kd/core';
import { expectRefused, leakedTensors, mlp as sharedMlp } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

await tf.setBackend('cpu');

/** One bad input of the battery: a label, the call, the code it must throw, a fragment of the message. */
export type BadInput = readonly [label: string, call: () => unknown, code: string, fragment: string | RegExp];

/** Random logits `[rows, cols]` with a fixed seed. */
export function randomLogits(rows: number, cols: number, seed: number, scale = 2): tf.Tensor2D {
  return tf.randomNormal([rows, cols], 0, scale, 'float32', seed) as tf.Tensor2D;
}

export function rows(t: tf.Tensor): number[][] {
  return t.arraySync() as number[][];
}

/** Reads a 2-D tensor's rows and disposes it. */
export function take(t: tf.Tensor): number[][] {
  const out = t.arraySync() as number[][];
  t.dispose();
  return out;
}

export { expectRefused, leakedTensors };

/** A small seeded MLP: input -> hidden (named `<name>_hidden`) -> logits (`<name>_logits`, random bias). */
export function mlp(inputs: number, hidden: number, classes: number, seed: number, name = 'mlp'): tfl.LayersModel {
  return sharedMlp(inputs, hidden, classes, seed, { name, biasStddev: 0.5 });
}

/** In-memory data as plain JS rows. */
function plainRows(data: { x: tf.Tensor; y: tf.Tensor1D }): { xs: number[][]; ys: number[]; shape: number[] } {
  const n = data.x.shape[0]!;
  const width = data.x.size / Math.max(1, n);
  const flat = Array.from(data.x.dataSync());
  return {
    xs: Array.from({ length: n }, (_, i) => flat.slice(i * width, (i + 1) * width)),
    ys: Array.from(data.y.dataSync()),
    shape: data.x.shape.slice(1),
  };
}

/** A random-access source over plain JS rows (what a file- or database-backed source does); ids `row-<p>`. */
export function rowSource(
  data: { x: tf.Tensor; y: tf.Tensor1D },
  options: { labels?: boolean; description?: string } = {},
): RandomAccessSource {
  const { xs, ys, shape } = plainRows(data);
  return {
    kind: 'kd-source',
    size: xs.length,
    exampleShape: shape,
    ...(options.labels === false ? {} : { labels: Int32Array.from(ys) }),
    description: options.description ?? 'rows',
    read: (positions: Int32Array): SourceBatch => ({
      x: Float32Array.from(Array.from(positions, (p) => xs[p]!).flat()),
      y: Int32Array.from(positions, (p) => ys[p]!),
      ids: Array.from(positions, (p) => `row-${p}`),
    }),
  };
}

/** The same rows, readable only front to back: an async generator of chunks of `chunk` examples. */
export function streamSource(
  data: { x: tf.Tensor; y: tf.Tensor1D },
  options: { chunk?: number; labels?: boolean; description?: string } = {},
): SequentialSource & { streams: number } {
  const rows = rowSource(data, options);
  const chunk = options.chunk ?? 5;
  const source = {
    kind: 'kd-source' as const,
    size: rows.size,
    exampleShape: rows.exampleShape,
    ...(rows.labels ? { labels: rows.labels } : {}),
    description: options.description ?? 'stream',
    streams: 0,
    async *stream(): AsyncGenerator<SourceBatch> {
      source.streams++;
      for (let start = 0; start < rows.size; start += chunk) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        yield rows.read(Int32Array.from({ length: Math.min(chunk, rows.size - start) }, (_, i) => start + i)) as SourceBatch;
      }
    },
  };
  return source;
}

/** A model's weights as plain arrays (to compare runs bit for bit). */
export function weightsOf(model: tfl.LayersModel): number[][] {
  return model.getWeights().map((w) => Array.from(w.dataSync()));
}
