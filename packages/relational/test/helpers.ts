import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

await tf.setBackend('cpu');

/** Nested number arrays of a golden fixture. */
export type Nested = number | Nested[];

/** A float32 tensor of nested golden values (shape from the nesting). */
export const tensor = (v: Nested): tf.Tensor => tf.tensor(v as number[], undefined, 'float32');

/** The golden tolerance for float32 results against float64 values: abs 1e-6 + rel 1e-4. */
export const ABS = 1e-6;
export const REL = 1e-4;

/**
 * Worst ratio over the elements of `|actual - expected| / (ABS + REL * reference)`, where the
 * reference magnitude is `|expected|` per element (`perElement`) or the largest `|expected|` of
 * the tensor (for gradients, whose small entries are differences of large terms). A ratio <= 1
 * is within tolerance.
 */
export function toleranceRatio(actual: ArrayLike<number>, expected: Nested, scale: 'perElement' | 'tensor' = 'perElement'): number {
  const flat = (Array.isArray(expected) ? (expected as unknown[]).flat(Number.POSITIVE_INFINITY) : [expected]) as number[];
  if (flat.length !== actual.length) throw new Error(`length ${actual.length} vs expected ${flat.length}`);
  const largest = flat.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  let worst = 0;
  for (let i = 0; i < flat.length; i++) {
    const reference = scale === 'tensor' ? largest : Math.abs(flat[i]!);
    worst = Math.max(worst, Math.abs(actual[i]! - flat[i]!) / (ABS + REL * reference));
  }
  return worst;
}

/** Shape of nested arrays. */
export const shapeOf = (v: Nested): number[] => (Array.isArray(v) ? [v.length, ...shapeOf(v[0]!)] : []);

/**
 * A seeded model on `[inputs]` vectors: dense relu layers named `<name>_h1`, `<name>_h2`, ...,
 * then `<name>_logits`.
 */
export function mlp(inputs: number, hidden: readonly number[], classes: number, seed: number, name: string): tfl.LayersModel {
  const model = tfl.sequential({ name });
  hidden.forEach((units, i) => {
    model.add(
      tfl.layers.dense({
        ...(i === 0 ? { inputShape: [inputs] } : {}),
        units,
        activation: 'relu',
        name: `${name}_h${i + 1}`,
        kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + i }),
      }),
    );
  });
  model.add(
    tfl.layers.dense({ units: classes, name: `${name}_logits`, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 99 }) }),
  );
  return model;
}

/** A tiny seeded convnet on `[size, size, 1]` images: conv 3x3 relu `<name>_map`, flatten, `<name>_logits`. */
export function convNet(size: number, filters: number, classes: number, seed: number, name: string): tfl.LayersModel {
  const model = tfl.sequential({ name });
  model.add(
    tfl.layers.conv2d({
      inputShape: [size, size, 1],
      filters,
      kernelSize: 3,
      padding: 'same',
      activation: 'relu',
      name: `${name}_map`,
      kernelInitializer: tfl.initializers.glorotUniform({ seed }),
    }),
  );
  model.add(tfl.layers.flatten({ name: `${name}_flat` }));
  model.add(
    tfl.layers.dense({ units: classes, name: `${name}_logits`, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }),
  );
  return model;
}

/** Labels from a fixed random projection of Gaussian inputs of shape `[n, ...shape]`. */
export function toyData(n: number, shape: readonly number[], classes: number, seed: number): { x: tf.Tensor; y: tf.Tensor1D } {
  return tf.tidy(() => {
    const x = tf.randomNormal([n, ...shape], 0, 1, 'float32', seed);
    const flat = tf.reshape(x, [n, -1]);
    const w = tf.randomNormal([flat.shape[1]!, classes], 0, 1, 'float32', seed + 7);
    const y = tf.argMax(tf.matMul(flat as tf.Tensor2D, w), 1) as tf.Tensor1D;
    return { x, y };
  });
}

/** Copies of the values of some variables. */
export const snapshot = (vars: readonly tf.Variable[]): Float32Array[] => vars.map((v) => Float32Array.from(v.dataSync()));

/** Largest absolute change of `vars` since `before`. */
export function maxChange(before: readonly Float32Array[], vars: readonly tf.Variable[]): number {
  let max = 0;
  vars.forEach((v, i) => {
    const now = v.dataSync();
    for (let j = 0; j < now.length; j++) max = Math.max(max, Math.abs(now[j]! - before[i]![j]!));
  });
  return max;
}

export { disposeData, leakedTensors } from '@kd/testing';
