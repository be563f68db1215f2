import '@tensorflow/tfjs-backend-cpu';
import { type Nested, convNet as stridedConvNet, tensorOf } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

await tf.setBackend('cpu');

export type { Nested } from '@kd/testing';
export {
  disposeData,
  layeredMlp as mlp,
  leakedTensors,
  maxChange,
  snapshot,
  toleranceRatio,
  toyData,
} from '@kd/testing';

/** A float32 tensor of nested golden values (shape from the nesting). */
export const tensor = tensorOf;

/** Shape of nested arrays. */
export const shapeOf = (v: Nested): number[] => (Array.isArray(v) ? [v.length, ...shapeOf(v[0]!)] : []);

/** A tiny seeded convnet on `[size, size, 1]` images: conv 3x3 relu `<name>_map` (stride 1), flatten, `<name>_logits`. */
export function convNet(size: number, filters: number, classes: number, seed: number, name: string): tfl.LayersModel {
  return stridedConvNet(size, filters, 1, classes, seed, name);
}
