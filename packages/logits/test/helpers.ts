import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';

await tf.setBackend('cpu');

export { disposeData, expectRefused, leakedTensors, maxDiff, mlp, toyData } from '@kd/testing';

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
