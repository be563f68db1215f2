import { type DistillationPlugin, optionsSchema, parseOptions, weightSchema } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { checkPair, constant, flattenExamples, flooredNorm } from './features';
import { nameSchema, tapSchema } from './options';
import { featurePairPlugin } from './pairPlugin';

/** The epsilon of PKT's normalisation and of its KL divergence (the authors' code: 1e-7). */
export const PKT_EPSILON = 1e-7;

/**
 * PKT's conditional probabilities, `[B, B]`: features flattened per example and divided by
 * `||f|| + 1e-7`; cosine similarities `C = f f^T` mapped to `[0, 1]` by `(C + 1) / 2`; each row
 * divided by its sum, so row `i` is the probability of each example given example `i`.
 *
 * The norm is computed as `sqrt(max(||f||^2, 1e-24))`: the same value wherever `||f|| >= 1e-12`
 * (and within 1e-12 of it elsewhere, against the 1e-7 added), and a finite gradient at an
 * all-zero example (a dead ReLU feature), where `sqrt` would give NaN.
 */
export function conditionalProbabilities(features: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const f = flattenExamples(features);
    const unit = tf.div(f, tf.add(flooredNorm(f, 1, 1e-12), PKT_EPSILON));
    const similarity = tf.div(tf.add(tf.matMul(unit, unit, false, true), 1), 2);
    return tf.div(similarity, tf.sum(similarity, 1, true)) as tf.Tensor2D;
  });
}

/**
 * Probabilistic knowledge transfer loss (Passalis & Tefas, ECCV 2018), the authors' and
 * RepDistiller's `cosine_similarity_loss`: with `P_s`, `P_t` the {@link conditionalProbabilities}
 * of each side, `mean over the B^2 entries of P_t * log((P_t + 1e-7) / (P_s + 1e-7))` (a KL
 * divergence of teacher from student, averaged over entries as the reference does, not summed
 * over rows). Feature sizes may differ; the teacher side is a constant. Needs `B >= 2`.
 *
 * Unlike the reference, NaN features are not replaced by zeros: they make the loss NaN (and the
 * `Distiller` stops with `non-finite-loss`).
 *
 * @param student Student features `[B, D]` or `[B, H, W, C]` (float32).
 * @param teacher Teacher features, same `B`.
 */
export function pktLoss(student: tf.Tensor, teacher: tf.Tensor): tf.Scalar {
  checkPair(student, teacher, { where: 'pktLoss', minBatch: 2, relation: 'probabilities over other examples' });
  return tf.tidy(() => {
    const ps = conditionalProbabilities(student);
    const pt = constant(conditionalProbabilities(teacher));
    const ratio = tf.div(tf.add(pt, PKT_EPSILON), tf.add(ps, PKT_EPSILON));
    return tf.mean(tf.mul(pt, tf.log(ratio))) as tf.Scalar;
  });
}

/** Options of {@link pkt}. */
export interface PktOptions {
  /** Student layer to tap (RepDistiller: the pooled penultimate feature). */
  readonly student: string;
  /** Teacher layer to tap (for an `ensembleTeacher`: `"<member>/<layer>"`). */
  readonly teacher: string;
  /** Weight of the term (RepDistiller's CIFAR-100 `-b 30000`). Default 30000. */
  readonly weight?: number;
  /** Plugin and loss-term name. Default `pkt`. */
  readonly name?: string;
}

/** Schema of {@link PktOptions} (defaults applied). */
export const pktSchema = optionsSchema<PktOptions>()({
  student: tapSchema('a tapped student layer'),
  teacher: tapSchema('a tapped teacher layer'),
  weight: weightSchema.default(30000),
  name: nameSchema.default('pkt'),
});

/**
 * Probabilistic knowledge transfer (Passalis & Tefas 2018) as a plugin: the term is
 * {@link pktLoss} between one tapped student layer and one tapped teacher layer, weighted by
 * `weight` (default 30000, RepDistiller's CIFAR-100 value; the loss itself is small, a mean over
 * `B^2` entries of probabilities near `1 / B`). No trainable state.
 *
 * @example
 * distiller.use(hardLabel()).use(pkt({ student: 's_pool', teacher: 't_pool' }));
 */
export function pkt(options: PktOptions): DistillationPlugin<void> {
  const { student, teacher, weight, name } = parseOptions(pktSchema, options, 'pkt');
  return featurePairPlugin<void>({
    minimumBatch: 2,
    name,
    label: name,
    weight,
    student,
    teacher,
    setup: () => undefined,
    loss: (s, t) => pktLoss(s, t),
  });
}
