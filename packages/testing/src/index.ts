/**
 * Test utilities shared by the kd packages' suites. Private: never published. Tests choose and
 * set their backend themselves; nothing here has side effects.
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { expect } from 'vitest';

/** Structurally `@kd/core`'s LabeledData (no dependency on @kd/core, which tests with this package). */
export interface LabeledData {
  readonly x: tf.Tensor;
  readonly y: tf.Tensor1D;
  readonly teacherX?: tf.Tensor;
}

/** Runs `fn` and returns how many tensors it left behind (`tf.memory().numTensors` difference). */
export async function leakedTensors(fn: () => Promise<unknown> | unknown): Promise<number> {
  const before = tf.memory().numTensors;
  await fn();
  return tf.memory().numTensors - before;
}

/**
 * Labels from a fixed random projection of Gaussian inputs: a learnable toy problem. `inputs` is
 * the feature count (`x` is `[n, inputs]`) or an example's shape (`x` is `[n, ...inputs]`,
 * flattened for the projection).
 */
export function toyData(n: number, inputs: number | readonly number[], classes: number, seed: number): LabeledData {
  if (typeof inputs !== 'number') return toyDataOfShape(n, inputs, classes, seed);
  return tf.tidy(() => {
    const x = tf.randomNormal([n, inputs], 0, 1, 'float32', seed);
    const w = tf.randomNormal([inputs, classes], 0, 1, 'float32', seed + 7);
    const y = tf.argMax(tf.matMul(x, w), 1) as tf.Tensor1D;
    return { x, y };
  });
}

function toyDataOfShape(n: number, shape: readonly number[], classes: number, seed: number): LabeledData {
  return tf.tidy(() => {
    const x = tf.randomNormal([n, ...shape], 0, 1, 'float32', seed);
    const flat = tf.reshape(x, [n, -1]);
    const w = tf.randomNormal([flat.shape[1]!, classes], 0, 1, 'float32', seed + 7);
    const y = tf.argMax(tf.matMul(flat as tf.Tensor2D, w), 1) as tf.Tensor1D;
    return { x, y };
  });
}

/** Disposes the tensors of a data set. */
export function disposeData(data: LabeledData): void {
  tf.dispose([data.x, data.y, ...(data.teacherX ? [data.teacherX] : [])]);
}

/** Options of {@link mlp}. */
export interface MlpOptions {
  /** Model name and layer-name prefix. Default `'mlp'`. */
  readonly name?: string;
  /** Suffix of the hidden layer's name (`<name>_<hiddenName>`). Default `'hidden'`. */
  readonly hiddenName?: string;
  /** Standard deviation of a seeded normal bias init of the logits (default: zeros). */
  readonly biasStddev?: number;
}

/** A small seeded MLP: `inputs -> hidden (relu, <name>_<hiddenName>) -> classes (<name>_logits)`. */
export function mlp(inputs: number, hidden: number, classes: number, seed: number, options: MlpOptions = {}): tfl.LayersModel {
  const name = options.name ?? 'mlp';
  const model = tfl.sequential({ name });
  model.add(
    tfl.layers.dense({
      inputShape: [inputs],
      units: hidden,
      activation: 'relu',
      name: `${name}_${options.hiddenName ?? 'hidden'}`,
      kernelInitializer: tfl.initializers.glorotUniform({ seed }),
    }),
  );
  model.add(
    tfl.layers.dense({
      units: classes,
      name: `${name}_logits`,
      kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }),
      ...(options.biasStddev ? { biasInitializer: tfl.initializers.randomNormal({ seed: seed + 2, stddev: options.biasStddev }) } : {}),
    }),
  );
  return model;
}

/**
 * Largest absolute and relative difference between computed values and nested expected arrays
 * (golden fixtures); `scale` is the largest expected magnitude.
 */
export function maxDiff(actual: ArrayLike<number>, expected: unknown): { abs: number; rel: number; scale: number } {
  const flat = (Array.isArray(expected) ? (expected as unknown[]).flat(Number.POSITIVE_INFINITY) : [expected]) as number[];
  if (flat.length !== actual.length) throw new Error(`length ${actual.length} vs expected ${flat.length}`);
  let abs = 0;
  let rel = 0;
  let scale = 0;
  flat.forEach((e, i) => {
    const d = Math.abs(actual[i]! - e);
    abs = Math.max(abs, d);
    rel = Math.max(rel, d / Math.max(Math.abs(e), 1e-12));
    scale = Math.max(scale, Math.abs(e));
  });
  return { abs, rel, scale };
}

/**
 * A seeded MLP `inputs -> hidden... (relu, named <name>_h1, _h2...) -> classes` (`<name>_logits`;
 * kernels glorot-uniform seeded `seed + i` for hidden layer i, `seed + 99` for the logits).
 */
export function layeredMlp(inputs: number, hidden: readonly number[], classes: number, seed: number, name: string): tfl.LayersModel {
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

/** Copies of the values of some variables. */
export const snapshot = (vars: readonly tf.Variable[]): Float32Array[] => vars.map((v) => Float32Array.from(v.dataSync()));

/** Largest absolute change of `vars` since `before` (a {@link snapshot}). */
export function maxChange(before: readonly Float32Array[], vars: readonly tf.Variable[]): number {
  let max = 0;
  vars.forEach((v, i) => {
    const now = v.dataSync();
    for (let j = 0; j < now.length; j++) max = Math.max(max, Math.abs(now[j]! - before[i]![j]!));
  });
  return max;
}

/** Nested number arrays of a golden fixture. */
export type Nested = number | Nested[];

/** A float32 tensor of nested golden values (shape from the nesting). */
export const tensorOf = (v: Nested): tf.Tensor => tf.tensor(v as number[], undefined, 'float32');

/** Absolute part of the golden tolerance of float32 results against float64 values. */
export const GOLDEN_ABS = 1e-6;
/** Relative part of the golden tolerance of float32 results against float64 values. */
export const GOLDEN_REL = 1e-4;

/**
 * Worst ratio over the entries (nested arrays flattened) of
 * `|actual - expected| / (GOLDEN_ABS + GOLDEN_REL * reference)`, where the reference magnitude is
 * `|expected|` per entry (`perElement`, default) or the largest `|expected|` of the tensor
 * (`tensor`: for gradients, whose small entries are differences of large terms). At most 1 when
 * every entry is within the golden tolerance.
 */
export function toleranceRatio(actual: ArrayLike<number>, expected: unknown, scale: 'perElement' | 'tensor' = 'perElement'): number {
  const flat = (Array.isArray(expected) ? (expected as unknown[]).flat(Number.POSITIVE_INFINITY) : [expected]) as number[];
  if (flat.length !== actual.length) throw new Error(`length ${actual.length} vs expected ${flat.length}`);
  const largest = flat.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  let worst = 0;
  for (let i = 0; i < flat.length; i++) {
    const reference = scale === 'tensor' ? largest : Math.abs(flat[i]!);
    worst = Math.max(worst, Math.abs(actual[i]! - flat[i]!) / (GOLDEN_ABS + GOLDEN_REL * reference));
  }
  return worst;
}

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

const BRAND = Symbol.for('@kd/DistillationError');

/**
 * Runs `call` and checks that it throws (or rejects with) a kd error of `code` (the brand every
 * kd error carries, as `@kd/core`'s `isDistillationError` reads it) whose message contains or
 * matches `fragment`, leaving no tensor behind. Returns the error. The bad-input batteries of
 * every package run their cases through it.
 */
export async function expectRefused(call: () => unknown, code: string, fragment: string | RegExp): Promise<Error> {
  let error: unknown;
  const leaked = await leakedTensors(async () => {
    try {
      await call();
    } catch (e) {
      error = e;
    }
  });
  expect(error, 'the call did not throw').toBeDefined();
  const branded = typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[BRAND] === true;
  expect(branded, `expected a kd error of code ${code}, got ${String(error)}`).toBe(true);
  expect((error as { code: string }).code, (error as Error).message).toBe(code);
  const message = (error as Error).message;
  if (typeof fragment === 'string') expect(message).toContain(fragment);
  else expect(message).toMatch(fragment);
  expect(leaked, 'tensors leaked').toBe(0);
  return error as Error;
}

/**
 * Runs `fit` (a Distiller's fit, given the event listener to pass on) and checks, whether it
 * throws or not, that no training step ran and that `student`'s weights are unchanged. Rethrows
 * what `fit` threw, so it composes with {@link expectRefused}.
 */
export async function expectNoTrainingStep(
  student: tfl.LayersModel,
  fit: (onEvent: (event: { readonly type: string }) => void) => Promise<unknown>,
): Promise<void> {
  const before = student.getWeights().map((w) => w.dataSync().slice());
  let steps = 0;
  try {
    await fit((event) => void (event.type === 'step-end' && steps++));
  } finally {
    expect(steps, 'no training step').toBe(0);
    student.getWeights().forEach((w, i) => {
      expect(w.dataSync()).toEqual(before[i]);
    });
  }
}

/** The parts of a plugin a Distiller reads before its hooks run (for comparing two constructions of one plugin). */
export function pluginSignature(plugin: {
  readonly name: string;
  readonly label?: string;
  readonly weight?: unknown;
  readonly needsTeacher?: boolean;
  readonly labels?: string;
  readonly minimumBatch?: number;
  readonly taps?: unknown;
}) {
  return {
    name: plugin.name,
    label: plugin.label,
    weight: plugin.weight,
    needsTeacher: plugin.needsTeacher,
    labels: plugin.labels,
    minimumBatch: plugin.minimumBatch,
    taps: plugin.taps,
  };
}

/**
 * What a registry entry builds from `options`, parsed by the entry's own schema (as a config
 * file's would be). `context` is what the entry's `create` is given (a method entry's: the run's
 * `SharedModules`); default `{}`.
 */
export function fromEntry<T>(
  entry: { readonly schema: { parse(value: unknown): unknown }; readonly create: (options: never, context: never) => unknown },
  options: object,
  context: object = {},
): T {
  return (entry.create as (options: unknown, context: unknown) => unknown)(entry.schema.parse(options), context) as T;
}
