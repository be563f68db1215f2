import { type DistillationPlugin, optionsSchema, parseOptions, weightSchema } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { checkPair, constant, flattenExamples, normalize } from './features';
import { nameSchema, tapSchema } from './options';
import { featurePairPlugin } from './pairPlugin';

/**
 * The row-normalised batch similarity (Gram) matrix of SP: `G = F F^T` of the features
 * flattened per example (`F` is `[B, D]`), each row divided by its L2 norm (floored at 1e-12,
 * as PyTorch's `F.normalize`). Shape `[B, B]`.
 */
export function similarityMatrix(features: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const f = flattenExamples(features);
    return normalize(tf.matMul(f, f, false, true), 1) as tf.Tensor2D;
  });
}

/**
 * Similarity-preserving loss (Tung & Mori, ICCV 2019) in RepDistiller's form
 * (`distiller_zoo/SP.py`): `||G_s - G_t||_F^2 / B^2`, where `G` is the row-normalised
 * `B x B` similarity matrix of each side ({@link similarityMatrix}). Only `B` must match: the
 * student and teacher may have any feature sizes, vectors `[B, D]` or NHWC maps `[B, H, W, C]`.
 * The teacher side is a constant (no gradient reaches `teacher`). Needs `B >= 2`.
 *
 * @param student Student features `[B, D]` or `[B, H, W, C]` (float32).
 * @param teacher Teacher features, same `B`.
 * @returns A scalar.
 */
export function similarityPreservingLoss(student: tf.Tensor, teacher: tf.Tensor): tf.Scalar {
  checkPair(student, teacher, { where: 'similarityPreservingLoss', minBatch: 2, relation: 'similarities between examples' });
  return tf.tidy(() => {
    const batch = student.shape[0]!;
    const gs = similarityMatrix(student);
    const gt = constant(similarityMatrix(teacher));
    return tf.div(tf.sum(tf.squaredDifference(gt, gs)), batch * batch) as tf.Scalar;
  });
}

/** Options of {@link similarityPreserving}. */
export interface SimilarityPreservingOptions {
  /** Student layer to tap (RepDistiller: the last feature map before pooling). */
  readonly student: string;
  /** Teacher layer to tap (for an `ensembleTeacher`: `"<member>/<layer>"`). */
  readonly teacher: string;
  /** Weight of the term, the paper's gamma (RepDistiller's CIFAR-100 `-b 3000`). Default 3000. */
  readonly weight?: number;
  /** Plugin and loss-term name. Default `sp`. */
  readonly name?: string;
}

/** Schema of {@link SimilarityPreservingOptions} (defaults applied). */
export const similarityPreservingSchema = optionsSchema<SimilarityPreservingOptions>()({
  student: tapSchema('a tapped student layer'),
  teacher: tapSchema('a tapped teacher layer'),
  weight: weightSchema.default(3000),
  name: nameSchema.default('sp'),
});

/**
 * Similarity-preserving knowledge distillation (Tung & Mori 2019) as a plugin: the term is
 * {@link similarityPreservingLoss} between one tapped student layer and one tapped teacher
 * layer, weighted by `weight` (default 3000, RepDistiller's CIFAR-100 value, used there with
 * cross-entropy weight 1 and no KD term). No trainable state.
 *
 * @example
 * distiller.use(hardLabel()).use(similarityPreserving({ student: 's_block3', teacher: 't_block3' }));
 */
export function similarityPreserving(options: SimilarityPreservingOptions): DistillationPlugin<void> {
  const { student, teacher, weight, name } = parseOptions(similarityPreservingSchema, options, 'similarityPreserving');
  return featurePairPlugin<void>({
    minimumBatch: 2,
    name,
    label: name,
    weight,
    student,
    teacher,
    setup: () => undefined,
    loss: (s, t) => similarityPreservingLoss(s, t),
  });
}
