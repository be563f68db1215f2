import {
  DistillationError,
  type DistillationPlugin,
  definePlugin,
  type LayerShape,
  optionsSchema,
  parseOptions,
  weightSchema,
} from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { FitnetError } from './errors';
import { nameSchema, powerSchema, tapSchema } from './options';
import { l2Normalise } from './pooling';

/** One student/teacher pair of tapped NHWC maps. */
export interface AttentionPair {
  readonly student: string;
  readonly teacher: string;
}

/** Options of {@link attentionTransfer}. */
export interface AttentionTransferOptions {
  /** The pairs of maps (typically the outputs of matching residual groups). */
  readonly pairs: readonly AttentionPair[];
  /** Weight of the term, the paper's beta. Default 1000 (RepDistiller and the authors' code). */
  readonly beta?: number;
  /** Power p of the activation-based attention map `mean_c |A_c|^p`. Default 2. */
  readonly p?: number;
  /** Plugin and loss-term name. Default `at`. */
  readonly name?: string;
}

/** Schema of one {@link AttentionPair}. */
export const attentionPairSchema = optionsSchema<AttentionPair>()({
  student: tapSchema('a tapped student map'),
  teacher: tapSchema('a tapped teacher map'),
});

/** Schema of {@link AttentionTransferOptions} (defaults applied). */
export const attentionTransferSchema = optionsSchema<AttentionTransferOptions>()({
  pairs: z
    .array(attentionPairSchema, { message: 'must be a list of { student, teacher } layer names' })
    .min(1, { message: 'must be a non-empty list of { student, teacher } layer names' }),
  beta: weightSchema.default(1000),
  p: powerSchema.default(2),
  name: nameSchema.default('at'),
});

/**
 * Activation-based spatial attention map of NHWC features: `mean over channels of f^p`, flattened
 * to `[batch, H*W]`, each row divided by its L2 norm (floored at 1e-12, as `F.normalize`).
 * Like the references, `f^p` is taken without an absolute value (the same for even p).
 */
export function attentionMap(features: tf.Tensor4D, p = 2): tf.Tensor2D {
  checkPower(p, 'attentionMap');
  if (!(features instanceof tf.Tensor) || features.rank !== 4) {
    throw new FitnetError(
      'rank-mismatch',
      `attentionMap: features must be an NHWC map [batch, height, width, channels], got ${features instanceof tf.Tensor ? `[${features.shape}]` : String(features)}`,
    );
  }
  return tf.tidy(() => {
    const [batch, h, w] = features.shape;
    const powered = p === 2 ? tf.square(features) : tf.pow(features, p);
    return l2Normalise(tf.reshape(tf.mean(powered, 3), [batch, h * w]), 1) as tf.Tensor2D;
  });
}

/**
 * Attention-transfer loss of one pair (RepDistiller `Attention.at_loss`): the larger map is
 * average-pooled to the smaller one's size (an integer factor, as the reference's
 * `adaptive_avg_pool2d` of divisible sizes), then the mean over `[batch, H*W]` of the squared
 * difference of the two normalised attention maps. Channels may differ.
 */
export function attentionLoss(student: tf.Tensor4D, teacher: tf.Tensor4D, p = 2): tf.Scalar {
  checkPower(p, 'attentionLoss');
  for (const [what, t] of [
    ['student', student],
    ['teacher', teacher],
  ] as const) {
    if (!(t instanceof tf.Tensor)) throw new DistillationError('bad-option', `attentionLoss: ${what} must be a tensor, got ${String(t)}`);
  }
  checkPairShapes(student.shape, teacher.shape, 'attentionLoss');
  return tf.tidy(() => {
    let [s, t] = [student, teacher];
    if (s.shape[1] > t.shape[1]) s = poolTo(s, t.shape[1], t.shape[2]);
    else if (s.shape[1] < t.shape[1]) t = poolTo(t, s.shape[1], s.shape[2]);
    return tf.mean(tf.squaredDifference(attentionMap(s, p), attentionMap(t, p))) as tf.Scalar;
  });
}

function checkPower(p: number, where: string): void {
  if (!(typeof p === 'number' && Number.isFinite(p) && p > 0)) {
    throw new DistillationError('bad-option', `${where}: p must be a finite number > 0, got ${String(p)}`);
  }
}

function poolTo(x: tf.Tensor4D, h: number, w: number): tf.Tensor4D {
  const fh = x.shape[1] / h;
  const fw = x.shape[2] / w;
  return tf.avgPool(x, [fh, fw], [fh, fw], 'valid');
}

/** Checks two NHWC shapes (batch first) for attention transfer; returns nothing or throws. */
function checkPairShapes(s: LayerShape, t: LayerShape, where: string): void {
  const show = `student [${s.map(String)}], teacher [${t.map(String)}]`;
  if (s.length !== 4 || t.length !== 4) {
    throw new FitnetError(
      'rank-mismatch',
      `${where}: attention transfer needs NHWC maps [batch, height, width, channels] on both sides (${show})`,
    );
  }
  const [, sH, sW] = s as number[];
  const [, tH, tW] = t as number[];
  if ([sH, sW, tH, tW].some((d) => d == null || !Number.isInteger(d) || d <= 0)) {
    throw new FitnetError('unknown-size', `${where}: the spatial sizes must be known (${show})`);
  }
  const [bigH, bigW, smallH, smallW] = sH! >= tH! ? [sH!, sW!, tH!, tW!] : [tH!, tW!, sH!, sW!];
  if (bigH % smallH !== 0 || bigW % smallW !== 0 || bigH / smallH !== bigW / smallW || bigW < smallW) {
    throw new FitnetError(
      'unsupported-size-relation',
      `${where}: the larger map must be an integer multiple (the same factor in height and width) of the smaller one to be average-pooled to it (${show})`,
    );
  }
}

/**
 * Attention transfer (Zagoruyko & Komodakis, ICLR 2017) as a plugin, with RepDistiller's
 * semantics: for each pair, the mean over batch and positions of the squared difference of the
 * L2-normalised attention maps ({@link attentionLoss}); the term `at` is the SUM over pairs, and
 * its weight is `beta` (default 1000; RepDistiller `-b 1000` multiplies the sum by beta, as does
 * the authors' `cifar.py`; the paper's equation writes beta/2 with a non-squared p-norm, so to
 * reproduce a beta/2 reading pass `beta: 500`).
 *
 * @example
 * distiller.use(attentionTransfer({ pairs: [{ student: 's_group1', teacher: 't_group1' }], beta: 1000 }));
 */
export function attentionTransfer(options: AttentionTransferOptions): DistillationPlugin<void> {
  const { pairs, beta, p, name } = parseOptions(attentionTransferSchema, options, 'attentionTransfer');

  return definePlugin<void>({
    name,
    label: p === 2 ? name : `${name}(p=${p})`,
    weight: beta,
    needsTeacher: true,
    taps: { student: [...new Set(pairs.map((q) => q.student))], teacher: [...new Set(pairs.map((q) => q.teacher))] },
    setup(context) {
      for (const pair of pairs) {
        checkPairShapes(
          context.studentShapes[pair.student] ?? [],
          context.teacherShapes[pair.teacher] ?? [],
          `Plugin "${name}" (student "${pair.student}" -> teacher "${pair.teacher}")`,
        );
      }
    },
    loss(outputs) {
      const terms = pairs.map((pair) => {
        const s = outputs.student.features[pair.student];
        const t = outputs.teacher?.features[pair.teacher];
        if (!s || !t) {
          throw new FitnetError(
            'missing-feature',
            `Plugin "${name}": the step has no tapped maps for "${pair.student}" / "${pair.teacher}"`,
          );
        }
        return attentionLoss(s as tf.Tensor4D, t as tf.Tensor4D, p);
      });
      return (terms.length === 1 ? terms[0]! : tf.addN(terms)) as tf.Scalar;
    },
  });
}
