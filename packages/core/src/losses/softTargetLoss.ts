import * as tf from '@tensorflow/tfjs-core';
import { DistillationError } from '../errors';
import { fusedSoftTargetLoss, logSoftmaxAt } from './fusedKernels';

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
  // One kernel forward and one backward where the backend registered kd's fused loss.
  const fused = fusedSoftTargetLoss(studentLogits, teacherLogProbabilities, temperature, form);
  if (fused) return fused;
  const key = `${form}:${temperature}`;
  let op = fusedOps.get(key);
  if (!op) {
    op = fusedSoftTarget(temperature, form);
    fusedOps.set(key, op);
  }
  return op(studentLogits, teacherLogProbabilities);
}

/** The fused op of each (form, temperature) used so far: built once, not at every step. */
const fusedOps = new Map<string, (z: tf.Tensor2D, logP: tf.Tensor2D) => tf.Scalar>();

/**
 * The soft-target loss as one custom-gradient op: the forward pass is the formula, and the
 * backward pass is its closed form, `dL/dz = T (q * sum(p) - p) / batch` (`T (q - p) / batch`
 * for normalised p) and `dL/dlogP = T^2 p (logP - logQ + 1) / batch` for KL
 * (`-T^2 p logQ / batch` for cross-entropy), with `q = softmax(z / T)`: a handful of kernels
 * instead of autodiff through log-softmax, exp, products and sums.
 */
function fusedSoftTarget(temperature: number, form: SoftTargetForm) {
  const t2 = temperature * temperature;
  return tf.customGrad(((z: tf.Tensor, logP: tf.Tensor, save: tf.GradSaveFunc) => {
    const batch = z.shape[0]!;
    const logQ = tf.logSoftmax(tf.div(z, temperature));
    const p = tf.exp(logP);
    const perExample = form === 'kl' ? tf.mul(p, tf.sub(logP, logQ)) : tf.neg(tf.mul(p, logQ));
    const value = tf.mul(tf.sum(perExample), t2 / batch) as tf.Scalar;
    save([logQ, p, logP]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [savedLogQ, savedP, savedLogP] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
        const q = tf.exp(savedLogQ);
        const dz = tf.mul(tf.sub(tf.mul(q, tf.sum(savedP, 1, true)), savedP), tf.mul(dy, temperature / batch));
        const scale = tf.mul(dy, t2 / batch);
        const dLogP =
          form === 'kl'
            ? tf.mul(tf.mul(savedP, tf.add(tf.sub(savedLogP, savedLogQ), 1)), scale)
            : tf.mul(tf.neg(tf.mul(savedP, savedLogQ)), scale);
        return [dz, dLogP];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (z: tf.Tensor2D, logP: tf.Tensor2D) => tf.Scalar;
}

/** `softTargetLoss` from raw teacher logits: `T^2 * KL(softmax(v/T) || softmax(z/T))`. */
export function softTargetLossFromLogits(
  studentLogits: tf.Tensor2D,
  teacherLogits: tf.Tensor2D,
  temperature: number,
  form: SoftTargetForm = 'kl',
): tf.Scalar {
  assertTemperature(temperature);
  return tf.tidy(() => softTargetLoss(studentLogits, logSoftmaxAt(teacherLogits, temperature), temperature, form));
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
