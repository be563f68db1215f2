import * as tf from '@tensorflow/tfjs-core';
import type { CrdCriticResult } from './critic';
import { type ContrastLogits, estimateZ, nceLossFromLogits } from './nce';

/** A critic's two normalisers Z (null until the first batch estimates them). */
export interface NceNormalisers {
  zStudent: number | null;
  zTeacher: number | null;
}

/** {@link CrdCriticResult} as a type alias (`tf.tidy` takes it as a tensor container). */
export type SymmetricNceResult = Pick<CrdCriticResult, keyof CrdCriticResult>;

/**
 * The symmetric NCE loss of one batch from both sides' logits (call inside a `tf.tidy`): estimates
 * and stores into `z` whichever normaliser is still null (student side first), then sums the two
 * sides' NCE losses.
 */
export function symmetricNceLoss(
  z: NceNormalisers,
  outS: ContrastLogits,
  outT: ContrastLogits,
  dataSize: number,
  studentEmbedding: tf.Tensor2D,
  teacherEmbedding: tf.Tensor2D,
): SymmetricNceResult {
  const zStudent = z.zStudent ?? estimateZ(outS, dataSize);
  const zTeacher = z.zTeacher ?? estimateZ(outT, dataSize);
  z.zStudent = zStudent;
  z.zTeacher = zTeacher;
  const studentLoss = nceLossFromLogits(outS, zStudent, dataSize);
  const teacherLoss = nceLossFromLogits(outT, zTeacher, dataSize);
  return {
    loss: tf.add(studentLoss, teacherLoss) as tf.Scalar,
    studentLoss,
    teacherLoss,
    studentEmbedding,
    teacherEmbedding,
  };
}
