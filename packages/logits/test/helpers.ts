import '@tensorflow/tfjs-backend-cpu';
import { SeededRandom, type StepContext, type StepOutputs, type TeacherOutputs } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';

await tf.setBackend('cpu');

export { disposeData, expectRefused, leakedTensors, maxDiff, mlp, toleranceRatio, toyData } from '@kd/testing';

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
