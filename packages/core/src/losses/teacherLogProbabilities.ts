import * as tf from '@tensorflow/tfjs-core';
import type { TeacherOutputs } from '../plugin';

/**
 * The teacher's log-probabilities at temperature `T`, `[batch, classes]`.
 *
 * One teacher: `logSoftmax(v / T)`. An ensemble (outputs with `members`): the arithmetic mean of
 * the members' `softmax(v_m / T)` (computed as `logSumExp - log M`), or the geometric mean: the
 * mean of the members' log-probabilities, renormalised with a log-softmax.
 */
export function teacherLogProbabilities(teacher: TeacherOutputs, temperature: number): tf.Tensor2D {
  return tf.tidy(() => {
    if (teacher.members == null) return tf.logSoftmax(tf.div(teacher.logits, temperature)) as tf.Tensor2D;
    const logProbabilities = tf.logSoftmax(tf.div(teacher.members, temperature)) as tf.Tensor3D;
    const members = teacher.members.shape[0];
    if (teacher.mean === 'geometric') return tf.logSoftmax(tf.mean(logProbabilities, 0)) as tf.Tensor2D;
    return tf.sub(tf.logSumExp(logProbabilities, 0), Math.log(members)) as tf.Tensor2D;
  });
}
