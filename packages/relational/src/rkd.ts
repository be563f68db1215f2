import { type DistillationPlugin, optionsSchema, parseOptions, weightSchema } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { checkPair, constant, flattenExamples, normalize, smoothL1Mean } from './features';
import { nameSchema, tapSchema } from './options';
import { featurePairPlugin } from './pairPlugin';

/**
 * RKD's pairwise Euclidean distances of the features flattened per example, `[B, B]`:
 * `d_ij = sqrt(max(||e_i||^2 + ||e_j||^2 - 2 e_i.e_j, 1e-12))` off the diagonal, `d_ii = 0`
 * (RepDistiller `RKDLoss.pdist`, not squared), then divided by their mean over the positive
 * entries. Every off-diagonal entry is at least 1e-6 after the clamp, so that mean is the mean
 * of the `B (B - 1)` off-diagonal entries. The normalisation is part of the graph (its gradient
 * is taken, as in the reference).
 */
export function normalizedDistances(features: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const e = flattenExamples(features);
    const batch = e.shape[0];
    const squares = tf.sum(tf.square(e), 1);
    const squared = tf.sub(
      tf.add(tf.reshape(squares, [batch, 1]), tf.reshape(squares, [1, batch])),
      tf.mul(tf.matMul(e, e, false, true), 2),
    );
    const offDiagonal = tf.sub(1, tf.eye(batch));
    const distances = tf.mul(tf.sqrt(tf.maximum(squared, 1e-12)), offDiagonal);
    const mean = tf.div(tf.sum(distances), batch * (batch - 1));
    return tf.div(distances, mean) as tf.Tensor2D;
  });
}

/**
 * RKD's angle potentials, `[B, B, B]`: `a_ijk = <n(e_j - e_i), n(e_k - e_i)>`, the cosine of the
 * angle at `e_i` between the directions to `e_j` and `e_k`, with `n(v) = v / max(||v||, 1e-12)`
 * (zero for `j = i` or `k = i`); RepDistiller's `bmm` of the normalised difference vectors.
 * Memory: a `[B, B, D]` difference tensor.
 */
export function anglePotentials(features: tf.Tensor): tf.Tensor3D {
  return tf.tidy(() => {
    const e = flattenExamples(features);
    const difference = tf.sub(tf.expandDims(e, 0), tf.expandDims(e, 1)); // [i, j] = e_j - e_i
    const unit = normalize(difference, 2) as tf.Tensor3D;
    return tf.matMul(unit, unit, false, true) as tf.Tensor3D;
  });
}

/**
 * RKD distance term: smooth L1 (beta 1, mean over the `B^2` entries) between the student's and
 * the teacher's {@link normalizedDistances}; teacher side constant. Needs `B >= 2`.
 */
export function rkdDistanceLoss(student: tf.Tensor, teacher: tf.Tensor): tf.Scalar {
  checkPair(student, teacher, { where: 'rkdDistanceLoss', minBatch: 2, relation: 'distances between examples' });
  return tf.tidy(() => smoothL1Mean(normalizedDistances(student), constant(normalizedDistances(teacher))));
}

/**
 * RKD angle term: smooth L1 (beta 1, mean over the `B^3` entries) between the student's and the
 * teacher's {@link anglePotentials}; teacher side constant. Needs `B >= 3` (with two examples
 * every angle entry is 0 or 1 on both sides, so the term is constant).
 */
export function rkdAngleLoss(student: tf.Tensor, teacher: tf.Tensor): tf.Scalar {
  checkPair(student, teacher, { where: 'rkdAngleLoss', minBatch: 3, relation: 'angles of triples of examples' });
  return tf.tidy(() => smoothL1Mean(anglePotentials(student), constant(anglePotentials(teacher))));
}

/** The two weights of {@link rkdLoss}. */
export interface RkdLossOptions {
  /** Weight of the distance term (RepDistiller `w_d`). Default 25. */
  readonly distanceWeight?: number;
  /** Weight of the angle term (RepDistiller `w_a`). Default 50. */
  readonly angleWeight?: number;
}

/** Schema of {@link RkdLossOptions} (defaults applied). */
export const rkdLossSchema = optionsSchema<RkdLossOptions>()({
  distanceWeight: weightSchema.default(25),
  angleWeight: weightSchema.default(50),
});

/**
 * Relational knowledge distillation loss (Park et al., CVPR 2019), RepDistiller's `RKDLoss`:
 * `distanceWeight * rkdDistanceLoss + angleWeight * rkdAngleLoss` on the features flattened per
 * example. Student and teacher may have different feature sizes (vectors or NHWC maps); only `B`
 * must match, and `B >= 3` when the angle term is on. A term whose weight is 0 is not computed
 * (RKD-D alone: `angleWeight: 0`, which then needs only `B >= 2`). No gradient reaches `teacher`.
 *
 * @param student Student features `[B, D]` or `[B, H, W, C]` (float32).
 * @param teacher Teacher features, same `B`.
 * @param options `{ distanceWeight = 25, angleWeight = 50 }`: finite numbers >= 0.
 */
export function rkdLoss(student: tf.Tensor, teacher: tf.Tensor, options: RkdLossOptions = {}): tf.Scalar {
  const { distanceWeight, angleWeight } = parseOptions(rkdLossSchema, options, 'rkdLoss');
  checkPair(student, teacher, {
    where: 'rkdLoss',
    minBatch: angleWeight > 0 ? 3 : 2,
    relation: angleWeight > 0 ? 'angles of triples of examples' : 'distances between examples',
  });
  return tf.tidy(() => {
    const terms: tf.Scalar[] = [];
    if (distanceWeight > 0) terms.push(tf.mul(rkdDistanceLoss(student, teacher), distanceWeight));
    if (angleWeight > 0) terms.push(tf.mul(rkdAngleLoss(student, teacher), angleWeight));
    return (terms.length === 0 ? tf.scalar(0) : terms.length === 1 ? terms[0]! : tf.add(terms[0]!, terms[1]!)) as tf.Scalar;
  });
}

/** Options of {@link rkd}. */
export interface RkdOptions extends RkdLossOptions {
  /** Student layer to tap (RepDistiller: the pooled penultimate feature). */
  readonly student: string;
  /** Teacher layer to tap (for an `ensembleTeacher`: `"<member>/<layer>"`). */
  readonly teacher: string;
  /** Weight of the whole term (RepDistiller's CIFAR-100 `-b 1`). Default 1. */
  readonly weight?: number;
  /** Plugin and loss-term name. Default `rkd`. */
  readonly name?: string;
}

/** Schema of {@link RkdOptions} (defaults applied). */
export const rkdSchema = optionsSchema<RkdOptions>()({
  student: tapSchema('a tapped student layer'),
  teacher: tapSchema('a tapped teacher layer'),
  distanceWeight: weightSchema.default(25),
  angleWeight: weightSchema.default(50),
  weight: weightSchema.default(1),
  name: nameSchema.default('rkd'),
});

/**
 * Relational knowledge distillation (Park et al. 2019) as a plugin: the term is
 * {@link rkdLoss} (`25 * distance + 50 * angle` by default) between one tapped student layer and
 * one tapped teacher layer, times `weight` (default 1, RepDistiller's CIFAR-100 value). No
 * trainable state. Batches need at least 3 examples (2 with `angleWeight: 0`).
 *
 * @example
 * distiller.use(hardLabel()).use(rkd({ student: 's_pool', teacher: 't_pool' }));
 */
export function rkd(options: RkdOptions): DistillationPlugin<void> {
  const { student, teacher, distanceWeight, angleWeight, weight, name } = parseOptions(rkdSchema, options, 'rkd');
  const defaults = distanceWeight === 25 && angleWeight === 50;
  return featurePairPlugin<void>({
    name,
    label: defaults ? name : `${name}(distance=${distanceWeight},angle=${angleWeight})`,
    weight,
    minimumBatch: angleWeight > 0 ? 3 : 2,
    student,
    teacher,
    setup: () => undefined,
    loss: (s, t) => rkdLoss(s, t, { distanceWeight, angleWeight }),
  });
}
