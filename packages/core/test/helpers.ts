import '@tensorflow/tfjs-backend-cpu';
import { mlp as sharedMlp } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

await tf.setBackend('cpu');

export { disposeData, leakedTensors, toyData } from '@kd/testing';

/** A small seeded MLP: input -> hidden (named `<name>_hidden`) -> logits. */
export function mlp(inputs: number, hidden: number, classes: number, seed: number, name?: string): tfl.LayersModel {
  return sharedMlp(inputs, hidden, classes, seed, { name });
}
