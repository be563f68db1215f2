import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LabeledData } from '../src/batch';

await tf.setBackend('cpu');

/** A small seeded MLP: input -> hidden (named `hidden`) -> logits. */
export function mlp(inputs: number, hidden: number, classes: number, seed: number, name?: string): tfl.LayersModel {
  const model = tfl.sequential({ name });
  model.add(
    tfl.layers.dense({
      inputShape: [inputs],
      units: hidden,
      activation: 'relu',
      name: `${name ?? 'mlp'}_hidden`,
      kernelInitializer: tfl.initializers.glorotUniform({ seed }),
    }),
  );
  model.add(
    tfl.layers.dense({
      units: classes,
      name: `${name ?? 'mlp'}_logits`,
      kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }),
    }),
  );
  return model;
}

/** A linearly separable-ish toy problem: labels from a fixed random projection. */
export function toyData(n: number, inputs: number, classes: number, seed: number): LabeledData {
  return tf.tidy(() => {
    const x = tf.randomNormal([n, inputs], 0, 1, 'float32', seed);
    const w = tf.randomNormal([inputs, classes], 0, 1, 'float32', seed + 7);
    const y = tf.argMax(tf.matMul(x, w), 1) as tf.Tensor1D;
    return { x, y };
  });
}

export function disposeData(data: LabeledData): void {
  tf.dispose([data.x, data.y, ...(data.teacherX ? [data.teacherX] : [])]);
}

/** Runs `fn` and returns how many tensors it left behind. */
export async function leakedTensors(fn: () => Promise<unknown> | unknown): Promise<number> {
  const before = tf.memory().numTensors;
  await fn();
  return tf.memory().numTensors - before;
}
