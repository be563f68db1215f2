import * as tf from '@tensorflow/tfjs-core';
import { assertSameShape } from './softTargetLoss';

/**
 * Logit matching (Ba & Caruana 2014): mean squared error between student and teacher logits,
 * averaged over batch and classes. Hinton's high-temperature limit of `softTargetLoss` is half
 * of this for zero-mean logits.
 */
export function logitMatchingLoss(studentLogits: tf.Tensor2D, teacherLogits: tf.Tensor2D): tf.Scalar {
  assertSameShape(studentLogits, teacherLogits);
  return tf.tidy(() => tf.mean(tf.squaredDifference(studentLogits, teacherLogits)) as tf.Scalar);
}
