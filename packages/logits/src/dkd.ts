import { nonNegativeSchema, optionsSchema, parseOptions, positiveSchema } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { checkLabelShape, checkLabelValues, checkLogitsPair, withoutGradient } from './checks';

/** Options of {@link dkdLoss}. */
export interface DkdLossOptions {
  /** Weight alpha of the target-class term TCKD (>= 0). Default 1 (mdistiller's CIFAR-100 setting). */
  readonly alpha?: number;
  /** Weight beta of the non-target-class term NCKD (>= 0). Default 8 (mdistiller's CIFAR-100 setting). */
  readonly beta?: number;
  /** Softmax temperature T (> 0). Default 4. */
  readonly temperature?: number;
}

/** Schema of {@link DkdLossOptions} (defaults applied). */
export const dkdLossSchema = optionsSchema<DkdLossOptions>()({
  alpha: nonNegativeSchema.default(1),
  beta: nonNegativeSchema.default(8),
  temperature: positiveSchema.default(4),
});

/**
 * The mask offset of the references: subtracting 1000 from the target class's log-probability
 * before a softmax leaves a distribution over the other classes (`exp(-1000)` is 0 in float32 and
 * float64).
 */
const MASK_OFFSET = 1000;

/** One distribution at T split at the target class (log-probabilities, one row per example). */
interface TargetSplit {
  /** `log p_target` `[batch]`. */
  readonly logTarget: tf.Tensor1D;
  /** `log (1 - p_target)` = log of the summed non-target probabilities `[batch]`. */
  readonly logOther: tf.Tensor1D;
  /** Log-probabilities of the distribution over the non-target classes `[batch, classes]` (target entry about -1000). */
  readonly logNonTarget: tf.Tensor2D;
}

function splitAtTarget(logProbabilities: tf.Tensor2D, targetMask: tf.Tensor2D): TargetSplit {
  const logTarget = tf.sum(tf.mul(logProbabilities, targetMask), 1) as tf.Tensor1D;
  const masked = tf.sub(logProbabilities, tf.mul(targetMask, MASK_OFFSET)) as tf.Tensor2D;
  const logOther = tf.logSumExp(masked, 1) as tf.Tensor1D;
  const logNonTarget = tf.sub(masked, tf.expandDims(logOther, 1)) as tf.Tensor2D;
  return { logTarget, logOther, logNonTarget };
}

/**
 * DKD from the student's logits and the teacher's log-probabilities at T, both checked: the one
 * computation behind {@link dkdLoss} (teacher logits) and the `dkd` plugin (the teacher
 * output contract's `logProbabilities(T)`, right for ensembles too).
 *
 * The references' `softmax(v / T - 1000 * mask)` equals `softmax(logSoftmax(v / T) - 1000 * mask)`
 * (a softmax ignores a shift of its row), and their `log(sum of the non-target probabilities)` is
 * the log-sum-exp of the masked log-probabilities: so both distributions come from the
 * log-probabilities alone.
 */
export function decoupledKd(
  studentLogits: tf.Tensor2D,
  teacherLogProbabilities: tf.Tensor2D,
  labels: tf.Tensor1D,
  alpha: number,
  beta: number,
  temperature: number,
): tf.Scalar {
  return tf.tidy(() => {
    const [batch, classes] = studentLogits.shape;
    const targetMask = tf.oneHot(labels, classes, 1, 0, 'float32') as tf.Tensor2D;
    const student = splitAtTarget(tf.logSoftmax(tf.div(studentLogits, temperature)) as tf.Tensor2D, targetMask);
    const teacher = splitAtTarget(withoutGradient(teacherLogProbabilities), targetMask);
    // KL([p_t, 1 - p_t] || [q_t, 1 - q_t]) per example: the binary (target vs the rest) distributions.
    const targetKl = tf.add(
      tf.mul(tf.exp(teacher.logTarget), tf.sub(teacher.logTarget, student.logTarget)),
      tf.mul(tf.exp(teacher.logOther), tf.sub(teacher.logOther, student.logOther)),
    );
    // KL over the non-target classes; the target entry weighs exp(-1000) = 0, as in the references.
    const nonTargetKl = tf.mul(tf.exp(teacher.logNonTarget), tf.sub(teacher.logNonTarget, student.logNonTarget));
    const scale = (temperature * temperature) / batch;
    return tf.add(tf.mul(tf.sum(targetKl), alpha * scale), tf.mul(tf.sum(nonTargetKl), beta * scale)) as tf.Scalar;
  });
}

/**
 * Decoupled knowledge distillation (Zhao et al., CVPR 2022; mdistiller `dkd_loss`):
 * `alpha * TCKD + beta * NCKD`, where, with `p = softmax(teacherLogits / T)` and
 * `q = softmax(studentLogits / T)`,
 * - TCKD (target-class KD) is the KL divergence between the binary distributions
 *   `[p_target, 1 - p_target]` and `[q_target, 1 - q_target]`;
 * - NCKD (non-target-class KD) is the KL divergence between the distributions over the
 *   non-target classes (`p` and `q` renormalised without the target class; the references mask
 *   the target logit with -1000);
 * each summed over the batch, times `T^2`, divided by the batch size (mdistiller's
 * `size_average=False ... / batch`).
 *
 * `labels` are the int32 target classes `[batch]`, each in `[0, classes)`. The teacher gets no
 * gradient. Inputs are checked before any work (see `logitsErrorCodes`).
 *
 * @example
 * const loss = dkdLoss(studentLogits, teacherLogits, labels, { alpha: 1, beta: 8, temperature: 4 });
 */
export function dkdLoss(
  studentLogits: tf.Tensor2D,
  teacherLogits: tf.Tensor2D,
  labels: tf.Tensor1D,
  options: DkdLossOptions = {},
): tf.Scalar {
  const { alpha, beta, temperature } = parseOptions(dkdLossSchema, options, 'dkdLoss');
  const [batch, classes] = checkLogitsPair(studentLogits, teacherLogits, 'dkdLoss');
  checkLabelShape(labels, batch, 'dkdLoss');
  checkLabelValues(labels, classes, 'dkdLoss');
  return tf.tidy(() => {
    const teacherLogProbabilities = tf.logSoftmax(tf.div(teacherLogits, temperature)) as tf.Tensor2D;
    return decoupledKd(studentLogits, teacherLogProbabilities, labels, alpha, beta, temperature);
  });
}
