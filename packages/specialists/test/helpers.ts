import '@tensorflow/tfjs-backend-cpu';
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
