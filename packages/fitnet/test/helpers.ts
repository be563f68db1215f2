import '@tensorflow/tfjs-backend-cpu';
import type { LabeledData } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

await tf.setBackend('cpu');

/** A seeded MLP `inputs -> hidden... (relu, named <name>_h1, _h2...) -> classes` (`<name>_logits`). */
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

/**
 * A tiny seeded convnet on `[size, size, 1]` images: conv 3x3 (`strides`, same padding, relu,
 * `filters` channels) named `<name>_map`, then flatten and a dense classifier `<name>_logits`.
 */
export function convNet(size: number, filters: number, strides: number, classes: number, seed: number, name: string): tfl.LayersModel {
  const model = tfl.sequential({ name });
  model.add(
    tfl.layers.conv2d({
      inputShape: [size, size, 1],
      filters,
      kernelSize: 3,
      strides,
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
export function toyData(n: number, shape: readonly number[], classes: number, seed: number): LabeledData {
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

/** The variables of a layer of a model. */
export const layerVariables = (model: tfl.LayersModel, layer: string): tf.Variable[] =>
  model.getLayer(layer).weights.map((w) => w.read() as tf.Variable);

export { disposeData, leakedTensors, maxDiff } from '@kd/testing';

/** The golden tolerance of float32 against float64: `|actual - expected| <= 1e-6 + 1e-4 |expected|`. */
export const ABS = 1e-6;
export const REL = 1e-4;

/**
 * The largest `|actual - expected| / (ABS + REL |expected|)` over the entries (nested arrays
 * flattened): at most 1 when every entry is within the golden tolerance.
 */
export function toleranceRatio(actual: ArrayLike<number>, expected: unknown): number {
  const flat = (Array.isArray(expected) ? (expected as unknown[]).flat(Number.POSITIVE_INFINITY) : [expected]) as number[];
  if (flat.length !== actual.length) throw new Error(`length ${actual.length} vs expected ${flat.length}`);
  let worst = 0;
  flat.forEach((e, i) => {
    worst = Math.max(worst, Math.abs(actual[i]! - e) / (ABS + REL * Math.abs(e)));
  });
  return worst;
}

/** Nested number arrays of the golden JSON. */
export type Nested = number | Nested[];

/** A float32 tensor from nested arrays. */
export const tensorOf = (v: Nested): tf.Tensor => tf.tensor(v as number[], undefined, 'float32');

/**
 * Central finite differences of the scalar `f` at `x` for a few entries (every `stride`-th),
 * compared with `analytic`: returns the largest `|numeric - analytic| / (atol + rtol |analytic|)`.
 * `f` is evaluated in float32, so the step is large (1e-2) and the tolerance loose.
 */
export function finiteDifferenceRatio(
  f: (x: tf.Tensor) => tf.Scalar,
  x: tf.Tensor,
  analytic: ArrayLike<number>,
  { step = 1e-2, stride = 1, atol = 2e-3, rtol = 2e-2 }: { step?: number; stride?: number; atol?: number; rtol?: number } = {},
): number {
  const values = Float32Array.from(x.dataSync());
  let worst = 0;
  for (let i = 0; i < values.length; i += stride) {
    const at = (delta: number) =>
      tf.tidy(() => {
        const moved = Float32Array.from(values);
        moved[i] = moved[i]! + delta;
        return f(tf.tensor(moved, x.shape, 'float32')).dataSync()[0]!;
      });
    const numeric = (at(step) - at(-step)) / (2 * step);
    worst = Math.max(worst, Math.abs(numeric - analytic[i]!) / (atol + rtol * Math.abs(analytic[i]!)));
  }
  return worst;
}
