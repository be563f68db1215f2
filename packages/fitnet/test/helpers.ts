import '@tensorflow/tfjs-backend-cpu';
import { type DistillationPlugin, Distiller, type LabeledData } from '@kd/core';
import { leakedTensors } from '@kd/testing';
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

/** What {@link tinyRun} measured. */
export interface TinyRunResult {
  /** The term's mean per epoch (after a first warm-up epoch). */
  readonly terms: number[];
  /** Tensors left behind by the measured epochs. */
  readonly leaked: number;
  /** Largest change of the plugin's variables over the measured epochs. */
  readonly variableChange: number;
  /** Tensors left after `distiller.dispose()` compared with before the Distiller existed. */
  readonly leftAfterDispose: number;
  /** The plugin's `state()` saved after training, restored into a fresh plugin: max |difference| (0 = bit-exact). */
  readonly roundTrip: number;
}

/**
 * A tiny Distiller run of `plugin` (after `before`, e.g. hard labels): one warm-up epoch, then
 * `epochs` measured epochs; checks the checkpoint round trip of the plugin's state through a
 * second, fresh plugin from `fresh()` set up on the same models; disposes everything it made.
 */
export async function tinyRun<S>(args: {
  readonly plugin: DistillationPlugin<S>;
  readonly fresh: () => DistillationPlugin<S>;
  readonly before?: readonly DistillationPlugin<unknown>[];
  readonly student: tfl.LayersModel;
  readonly teacher: tfl.LayersModel;
  readonly data: LabeledData;
  readonly term: string;
  readonly epochs?: number;
  readonly learningRate?: number;
  readonly batchSize?: number;
}): Promise<TinyRunResult> {
  const start = tf.memory().numTensors;
  const optimizer = tf.train.sgd(args.learningRate ?? 0.05);
  const distiller = new Distiller({ student: args.student, teacher: args.teacher, optimizer, seed: 7 });
  for (const p of args.before ?? []) distiller.use(p);
  distiller.use(args.plugin);
  const batchSize = args.batchSize ?? 8;
  await distiller.fit(args.data, { epochs: 1, batchSize });
  const slots = (distiller as unknown as { slots: { plugin: unknown; state: S }[] }).slots;
  const state = slots.find((s) => s.plugin === args.plugin)!.state;
  const variables = args.plugin.variables?.(state) ?? [];
  const initial = snapshot(variables);
  let terms: number[] = [];
  const leaked = await leakedTensors(async () => {
    const history = await distiller.fit(args.data, { epochs: args.epochs ?? 5, batchSize });
    terms = history.epochs.map((e) => e.terms[args.term]!);
  });
  const variableChange = maxChange(initial, variables);
  // Checkpoint round trip: a fresh plugin, set up on the same shapes, loads the saved state.
  const copy = args.fresh();
  const otherOptimizer = tf.train.sgd(0);
  const other = new Distiller({ student: args.student, teacher: args.teacher, optimizer: otherOptimizer, seed: 8 });
  other.use(copy);
  await other.fit(args.data, { epochs: 0, batchSize });
  const copyState = (other as unknown as { slots: { state: S }[] }).slots[0]!.state;
  const saved = args.plugin.state?.(state);
  let roundTrip = 0;
  if (saved) {
    copy.loadState!(copyState, saved);
    const again = copy.state!(copyState);
    for (const [key, value] of Object.entries(saved.tensors)) {
      const a = value.dataSync();
      const b = again.tensors[key]!.dataSync();
      if (a.length !== b.length) roundTrip = Number.POSITIVE_INFINITY;
      for (let i = 0; i < a.length; i++) roundTrip = Math.max(roundTrip, Math.abs(a[i]! - b[i]!));
    }
  }
  other.dispose();
  otherOptimizer.dispose();
  distiller.dispose();
  optimizer.dispose();
  return { terms, leaked, variableChange, leftAfterDispose: tf.memory().numTensors - start, roundTrip };
}

/**
 * A seeded convnet on `[size, size, 1]` images with a chain of conv 3x3 (same padding) layers
 * `<name>_map1, _map2, ...` (each `filters`, `strides`; linear, followed by a ReLU layer
 * `<name>_relu<i>`, so `_map<i>` is the pre-activation map), then flatten and `<name>_logits`.
 */
export function mapNet(
  size: number,
  convs: readonly { readonly filters: number; readonly strides?: number }[],
  classes: number,
  seed: number,
  name: string,
): tfl.LayersModel {
  const model = tfl.sequential({ name });
  convs.forEach((c, i) => {
    model.add(
      tfl.layers.conv2d({
        ...(i === 0 ? { inputShape: [size, size, 1] } : {}),
        filters: c.filters,
        kernelSize: 3,
        strides: c.strides ?? 1,
        padding: 'same',
        name: `${name}_map${i + 1}`,
        kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + i }),
      }),
    );
    model.add(tfl.layers.reLU({ name: `${name}_relu${i + 1}` }));
  });
  model.add(tfl.layers.flatten({ name: `${name}_flat` }));
  model.add(
    tfl.layers.dense({ units: classes, name: `${name}_logits`, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 99 }) }),
  );
  return model;
}
