import '@tensorflow/tfjs-backend-cpu';
import { mlp as sharedMlp } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

await tf.setBackend('cpu');

export { disposeData, leakedTensors, toyData } from '@kd/testing';

/** A small seeded MLP: input -> hidden (named `<name>_hidden`) -> logits. */
export function mlp(inputs: number, hidden: number, classes: number, seed: number, name?: string): tfl.LayersModel {
  return sharedMlp(inputs, hidden, classes, seed, { name });
}

/** Runs `body` as a browser would: no `process.getBuiltinModule`, so WebCrypto does the hashing. */
export async function withoutNodeCrypto<T>(body: () => Promise<T>): Promise<T> {
  const original = process.getBuiltinModule;
  (process as { getBuiltinModule?: unknown }).getBuiltinModule = undefined;
  try {
    return await body();
  } finally {
    process.getBuiltinModule = original;
  }
}

/** The kernels `fn` dispatches, by name (wrapping the engine's `runKernel`). */
export function kernelCounts(fn: () => void): Record<string, number> {
  const engine = tf.engine() as unknown as { runKernel: (name: string, ...rest: unknown[]) => unknown };
  const original = engine.runKernel;
  const counts: Record<string, number> = {};
  engine.runKernel = function (this: unknown, name: string, ...rest: unknown[]) {
    counts[name] = (counts[name] ?? 0) + 1;
    return original.call(this, name, ...rest);
  };
  try {
    fn();
  } finally {
    engine.runKernel = original;
  }
  return counts;
}
