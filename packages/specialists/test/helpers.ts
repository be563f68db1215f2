import '@tensorflow/tfjs-backend-cpu';
import { isDistillationError } from '@kd/core';
import { leakedTensors, mlp as sharedMlp } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { expect } from 'vitest';

await tf.setBackend('cpu');

/** One bad input of the battery: a label, the call, the code it must throw, a fragment of the message. */
export type BadInput = readonly [label: string, call: () => unknown, code: string, fragment: string | RegExp];

/**
 * Runs `call` and checks that it throws (or rejects with) a kd error of `code` whose message
 * contains `fragment`, leaving no tensor behind. Returns the error.
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
  expect(
    isDistillationError(error, code),
    `expected code ${code}, got ${String((error as { code?: unknown }).code)}: ${String(error)}`,
  ).toBe(true);
  expect((error as { code: string }).code).toBe(code);
  const message = (error as Error).message;
  if (typeof fragment === 'string') expect(message).toContain(fragment);
  else expect(message).toMatch(fragment);
  expect(leaked, 'tensors leaked').toBe(0);
  return error as Error;
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

export { leakedTensors };

/** A small seeded MLP: input -> hidden (named `<name>_hidden`) -> logits (`<name>_logits`, random bias). */
export function mlp(inputs: number, hidden: number, classes: number, seed: number, name = 'mlp'): tfl.LayersModel {
  return sharedMlp(inputs, hidden, classes, seed, { name, biasStddev: 0.5 });
}
