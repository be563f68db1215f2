import { nonNegativeSchema, optionsSchema, parseOptions, positiveSchema } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { checkLogitsPair, withoutGradient } from './checks';

/** Options of {@link distLoss}. */
export interface DistLossOptions {
  /** Weight beta of the inter-class relation term (>= 0). Default 1. */
  readonly beta?: number;
  /** Weight gamma of the intra-class relation term (>= 0). Default 1. */
  readonly gamma?: number;
  /** Softmax temperature tau (> 0). Default 1 (the paper's ImageNet setting; CIFAR-100: 4). */
  readonly temperature?: number;
}

/** Schema of {@link DistLossOptions} (defaults applied). */
export const distLossSchema = optionsSchema<DistLossOptions>()({
  beta: nonNegativeSchema.default(1),
  gamma: nonNegativeSchema.default(1),
  temperature: positiveSchema.default(1),
});

/** The references' eps in the denominator of the cosine similarity. */
const EPS = 1e-8;

/**
 * The L2 norm of each row, `[rows]`, with PyTorch's gradient at a zero row: 0 (autodiff through
 * `sqrt` gives NaN there; a centred row is exactly zero when all its entries are equal, e.g. a
 * class column of a batch of one).
 */
const rowNorm = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  const norm = tf.sqrt(tf.sum(tf.square(x), 1));
  save([x, norm]);
  return {
    value: norm,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [savedX, savedNorm] = saved as [tf.Tensor2D, tf.Tensor1D];
      return tf.mul(tf.divNoNan(savedX, tf.expandDims(savedNorm, 1)), tf.expandDims(dy, 1));
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor2D) => tf.Tensor1D;

/**
 * Pearson correlation of each row of `a` with the same row of `b`, `[rows]`, as the references
 * compute it: rows centred on their mean, then `sum(a * b) / (|a| |b| + 1e-8)`.
 */
function rowPearson(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor1D {
  const centredA = tf.sub(a, tf.mean(a, 1, true)) as tf.Tensor2D;
  const centredB = tf.sub(b, tf.mean(b, 1, true)) as tf.Tensor2D;
  const dot = tf.sum(tf.mul(centredA, centredB), 1);
  return tf.div(dot, tf.add(tf.mul(rowNorm(centredA), rowNorm(centredB)), EPS)) as tf.Tensor1D;
}

/**
 * DIST from the student's logits and the teacher's log-probabilities at T, both checked: the one
 * computation behind {@link distLoss} (teacher logits) and the `dist` plugin (the teacher
 * output contract's `logProbabilities(T)`, right for ensembles too).
 */
export function distFromLogProbabilities(
  studentLogits: tf.Tensor2D,
  teacherLogProbabilities: tf.Tensor2D,
  beta: number,
  gamma: number,
  temperature: number,
): tf.Scalar {
  return tf.tidy(() => {
    const student = tf.softmax(tf.div(studentLogits, temperature)) as tf.Tensor2D;
    const teacher = tf.exp(withoutGradient(teacherLogProbabilities)) as tf.Tensor2D;
    const inter = tf.sub(1, tf.mean(rowPearson(student, teacher)));
    const intra = tf.sub(1, tf.mean(rowPearson(tf.transpose(student), tf.transpose(teacher))));
    const t2 = temperature * temperature;
    return tf.add(tf.mul(inter, beta * t2), tf.mul(intra, gamma * t2)) as tf.Scalar;
  });
}

/**
 * DIST, "knowledge distillation from a stronger teacher" (Huang et al., NeurIPS 2022; the
 * authors' `DIST_KD` `losses/dist_kd.py`): match relations, not values. With
 * `p = softmax(teacherLogits / T)` and `q = softmax(studentLogits / T)` (`[batch, classes]`):
 * - inter-class relation: `1 - mean over examples of pearson(q_i, p_i)` (correlation over classes);
 * - intra-class relation: `1 - mean over classes of pearson(q_c, p_c)` (correlation over the
 *   batch, on the transposed matrices);
 * - loss `= T^2 * (beta * inter + gamma * intra)`.
 *
 * Pearson is the references' `cosine(a - mean a, b - mean b)` with `|a| |b| + 1e-8` in the
 * denominator. For a batch of one the intra-class correlation is 0/1e-8 = 0, so that term is the
 * constant `gamma * T^2` with no gradient (as in the references). The teacher gets no gradient.
 * Inputs are checked before any work (see `logitsErrorCodes`).
 *
 * @example
 * const loss = distLoss(studentLogits, teacherLogits, { beta: 1, gamma: 1, temperature: 4 });
 */
export function distLoss(studentLogits: tf.Tensor2D, teacherLogits: tf.Tensor2D, options: DistLossOptions = {}): tf.Scalar {
  const { beta, gamma, temperature } = parseOptions(distLossSchema, options, 'distLoss');
  checkLogitsPair(studentLogits, teacherLogits, 'distLoss');
  return tf.tidy(() => {
    const teacherLogProbabilities = tf.logSoftmax(tf.div(teacherLogits, temperature)) as tf.Tensor2D;
    return distFromLogProbabilities(studentLogits, teacherLogProbabilities, beta, gamma, temperature);
  });
}
