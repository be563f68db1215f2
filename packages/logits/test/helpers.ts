import '@tensorflow/tfjs-backend-cpu';
import { SeededRandom, type StepContext, type StepOutputs, type TeacherOutputs } from '@kd/core';
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

/** Outputs of one step as a plugin's `loss` hook sees them, with a plain (single-model) teacher. */
export function stepOutputs(student: tf.Tensor2D, teacher: TeacherOutputs, labels: tf.Tensor1D): StepOutputs {
  const batch = student.shape[0];
  return {
    student: { logits: student, features: {} },
    teacher,
    batch: { x: student, y: labels, index: tf.range(0, batch, 1, 'int32') as tf.Tensor1D },
  };
}

/** The context of a plugin's per-step hooks at zero-based `epoch`. */
export function stepContext(epoch = 0): StepContext<void> {
  return { state: undefined, epoch, step: 0, random: new SeededRandom(1), keep: (t) => t };
}

/** Seeded logits `[batch, classes]`, scaled. */
export const randomLogits = (batch: number, classes: number, seed: number, scale = 3): tf.Tensor2D =>
  tf.tidy(() => tf.mul(tf.randomNormal([batch, classes], 0, 1, 'float32', seed), scale) as tf.Tensor2D);
