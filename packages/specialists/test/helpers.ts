import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

await tf.setBackend('cpu');

/** A small seeded MLP: input -> hidden (named `<name>_hidden`) -> logits (`<name>_logits`). */
export function mlp(inputs: number, hidden: number, classes: number, seed: number, name = 'mlp'): tfl.LayersModel {
  const model = tfl.sequential({ name });
  model.add(
    tfl.layers.dense({
      inputShape: [inputs],
      units: hidden,
      activation: 'relu',
      name: `${name}_hidden`,
      kernelInitializer: tfl.initializers.glorotUniform({ seed }),
    }),
  );
  model.add(
    tfl.layers.dense({
      units: classes,
      name: `${name}_logits`,
      kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }),
      biasInitializer: tfl.initializers.randomNormal({ seed: seed + 2, stddev: 0.5 }),
    }),
  );
  return model;
}

/** Runs `fn` and returns how many tensors it left behind. */
export async function leakedTensors(fn: () => Promise<unknown> | unknown): Promise<number> {
  const before = tf.memory().numTensors;
  await fn();
  return tf.memory().numTensors - before;
}

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
