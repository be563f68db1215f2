import '@tensorflow/tfjs-backend-cpu';
import type { LabeledData } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

await tf.setBackend('cpu');

/** A small seeded MLP: input -> `<name>_pool` (relu, the "penultimate" feature) -> logits. */
export function mlp(inputs: number, hidden: number, classes: number, seed: number, name: string): tfl.LayersModel {
  const model = tfl.sequential({ name });
  model.add(
    tfl.layers.dense({
      inputShape: [inputs],
      units: hidden,
      activation: 'relu',
      name: `${name}_pool`,
      kernelInitializer: tfl.initializers.glorotUniform({ seed }),
    }),
  );
  model.add(
    tfl.layers.dense({
      units: classes,
      name: `${name}_logits`,
      kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }),
    }),
  );
  return model;
}

/** Labels from a fixed random projection of Gaussian inputs. */
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

/** Largest absolute and relative difference between two nested number arrays. */
export function maxDiff(actual: ArrayLike<number>, expected: unknown): { abs: number; rel: number } {
  const flat = (expected as unknown[]).flat(Number.POSITIVE_INFINITY) as number[];
  if (flat.length !== actual.length) throw new Error(`length ${actual.length} vs expected ${flat.length}`);
  let abs = 0;
  let rel = 0;
  flat.forEach((e, i) => {
    const d = Math.abs(actual[i]! - e);
    abs = Math.max(abs, d);
    rel = Math.max(rel, d / Math.max(Math.abs(e), 1e-12));
  });
  return { abs, rel };
}
