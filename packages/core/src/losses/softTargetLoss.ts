import * as tf from '@tensorflow/tfjs-core';
import { DistillationError } from '../errors';
import { klDivergence } from './klDivergence';

/** Which soft-target objective: KL (reference) or cross-entropy (same gradient, plus H(p)). */
export type SoftTargetForm = 'kl' | 'cross-entropy';

/**
 * Hinton soft-target loss at temperature `T`:
 * `T^2 * KL(softmax(v/T) || softmax(z/T))`, averaged over the batch — RepDistiller's `DistillKL`.
 *
 * `teacherLogProbabilities` are the teacher's log-probabilities AT temperature T
 * (`logSoftmax(v / T)` for one teacher; see `teacherLogProbabilities` for ensembles).
 * With `form: 'cross-entropy'` the loss is `T^2 * H(p, q)`, which differs from KL by the
 * teacher's entropy (a constant for the student) and has the same gradient.
 *
 * The gradient w.r.t. the student logits is `T * (q - p) / batch` (the `T^2` factor times the
 * paper's `(q - p) / T`).
 */
export function softTargetLoss(
  studentLogits: tf.Tensor2D,
  teacherLogProbabilities: tf.Tensor2D,
  temperature: number,
  form: SoftTargetForm = 'kl',
): tf.Scalar {
  assertTemperature(temperature);
  assertSameShape(studentLogits, teacherLogProbabilities);
  return tf.tidy(() => {
    const logQ = tf.logSoftmax(tf.div(studentLogits, temperature)) as tf.Tensor2D;
    const t2 = temperature * temperature;
    if (form === 'kl') return tf.mul(klDivergence(teacherLogProbabilities, logQ), t2) as tf.Scalar;
    const batch = studentLogits.shape[0];
    const crossEntropy = tf.div(tf.neg(tf.sum(tf.mul(tf.exp(teacherLogProbabilities), logQ))), batch);
    return tf.mul(crossEntropy, t2) as tf.Scalar;
  });
}

/** `softTargetLoss` from raw teacher logits: `T^2 * KL(softmax(v/T) || softmax(z/T))`. */
export function softTargetLossFromLogits(
  studentLogits: tf.Tensor2D,
  teacherLogits: tf.Tensor2D,
  temperature: number,
  form: SoftTargetForm = 'kl',
): tf.Scalar {
  assertTemperature(temperature);
  return tf.tidy(() => softTargetLoss(studentLogits, tf.logSoftmax(tf.div(teacherLogits, temperature)) as tf.Tensor2D, temperature, form));
}

function assertTemperature(temperature: number): void {
  if (!(Number.isFinite(temperature) && temperature > 0)) {
    throw new DistillationError('bad-option', `softTargetLoss: temperature must be a finite number > 0, got ${temperature}`);
  }
}

export function assertSameShape(student: tf.Tensor, teacher: tf.Tensor): void {
  if (student.rank !== 2) {
    throw new DistillationError('logits-not-2d', `Student logits must be 2-D [batch, classes], got shape [${student.shape}]`);
  }
  if (teacher.rank !== 2 || teacher.shape[0] !== student.shape[0] || teacher.shape[1] !== student.shape[1]) {
    throw new DistillationError(
      'shape-mismatch',
      `Teacher output shape [${teacher.shape}] does not match student logits [${student.shape}]: ` +
        'teacher and student must have the same number of classes.',
    );
  }
}
