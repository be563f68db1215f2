import '@tensorflow/tfjs-backend-cpu';
import { isDistillationError } from '@kd/core';
import { leakedTensors } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

await tf.setBackend('cpu');

export { leakedTensors };

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
