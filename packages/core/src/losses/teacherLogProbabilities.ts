import type * as tf from '@tensorflow/tfjs-core';
import type { TeacherPrediction } from '../plugin';
import { toTeacherOutputs } from '../teacherOutputs';

/**
 * The teacher's log-probabilities at temperature `T`, `[batch, classes]`:
 * `toTeacherOutputs(teacher).logProbabilities(T)` (one teacher: `logSoftmax(v / T)`; an
 * ensemble: its members' distributions combined at T).
 */
export function teacherLogProbabilities(teacher: TeacherPrediction, temperature: number): tf.Tensor2D {
  return toTeacherOutputs(teacher).logProbabilities(temperature);
}
