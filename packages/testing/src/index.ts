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

/** Labels from a fixed random projection of Gaussian inputs `[n, inputs]`: a learnable toy problem. */
export function toyData(n: number, inputs: number, classes: number, seed: number): LabeledData {
  return tf.tidy(() => {
    const x = tf.randomNormal([n, inputs], 0, 1, 'float32', seed);
    const w = tf.randomNormal([inputs, classes], 0, 1, 'float32', seed + 7);
    const y = tf.argMax(tf.matMul(x, w), 1) as tf.Tensor1D;
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
