import { type DistillationPlugin, definePlugin, optionsSchema, parseOptions, weightSchema } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { FitnetError } from './errors';
import { nameSchema, tapSchema } from './options';
import { checkMap, checkPoolable, checkSameBatch, detach, l2Normalise, poolToSmaller } from './pooling';

/** One student/teacher pair of tapped NHWC maps for {@link neuronSelectivityTransfer}. */
export interface NstPair {
  readonly student: string;
  readonly teacher: string;
}

/** Options of {@link neuronSelectivityTransfer}. */
export interface NeuronSelectivityTransferOptions {
  /** The pairs of maps (RepDistiller: the outputs of every residual group). */
  readonly pairs: readonly NstPair[];
  /** Weight of the term (RepDistiller's CIFAR-100 default `-b 50`). Default 50. */
  readonly weight?: number;
  /** Plugin and loss-term name. Default `nst`. */
  readonly name?: string;
}

/** Schema of one {@link NstPair}. */
export const nstPairSchema = optionsSchema<NstPair>()({
  student: tapSchema('a tapped student map'),
  teacher: tapSchema('a tapped teacher map'),
});

/** Schema of {@link NeuronSelectivityTransferOptions} (defaults applied). */
export const neuronSelectivityTransferSchema = optionsSchema<NeuronSelectivityTransferOptions>()({
  pairs: z
    .array(nstPairSchema, { message: 'must be a list of { student, teacher } layer names' })
    .min(1, { message: 'must be a non-empty list of { student, teacher } layer names' }),
  weight: weightSchema.default(50),
  name: nameSchema.default('nst'),
});

/**
 * Neuron selectivity transfer loss of one pair of NHWC maps (Huang & Wang 2017, RepDistiller
 * `NSTLoss.nst_loss`): the larger map is average-pooled to the smaller one's size (integer
 * factors only), each channel's map is flattened over space and L2-normalised, and the squared
 * MMD with the polynomial kernel `k(x, y) = (x . y)^2` is
 * `mean(K_tt) + mean(K_ss) - 2 mean(K_st)`, each mean over the batch and both channel indices.
 * Channel counts may differ. The teacher gets no gradient (`K_tt` is a constant).
 *
 * Throws `bad-option` (not a tensor), `rank-mismatch` (not NHWC), `batch-size-mismatch` and
 * `unsupported-size-relation` (a non-integer size ratio) before computing anything.
 */
export function nstLoss(student: tf.Tensor4D, teacher: tf.Tensor4D): tf.Scalar {
  const where = 'nstLoss';
  checkMap(student, 'student', where);
  checkMap(teacher, 'teacher', where);
  checkSameBatch(student, 'student', teacher, 'teacher', where);
  checkPoolable(student.shape, 'student', teacher.shape, 'teacher', where);
  return tf.tidy(() => {
    const [s, t] = poolToSmaller(student, teacher);
    const fs = channelMaps(s);
    const ft = channelMaps(detach(t));
    const kernelMean = (a: tf.Tensor3D, b: tf.Tensor3D) => tf.mean(tf.square(tf.matMul(a, b, false, true)));
    return tf.sub(tf.add(kernelMean(ft, ft), kernelMean(fs, fs)), tf.mul(2, kernelMean(fs, ft))) as tf.Scalar;
  });
}

/** `[B, H, W, C]` -> `[B, C, H*W]`, each channel's map L2-normalised. */
function channelMaps(x: tf.Tensor4D): tf.Tensor3D {
  const [batch, h, w, c] = x.shape;
  const flat = tf.transpose(tf.reshape(x, [batch, h * w, c]), [0, 2, 1]);
  return l2Normalise(flat, 2) as tf.Tensor3D;
}

/**
 * Neuron selectivity transfer (Huang & Wang 2017) as a plugin, with RepDistiller's semantics:
 * the term `nst` is the SUM over pairs of {@link nstLoss}, weighted by `weight` (default 50).
 * Map sizes are checked in `setup`, before the first step.
 *
 * @example
 * distiller.use(hardLabel()).use(neuronSelectivityTransfer({ pairs: [{ student: 's_group2', teacher: 't_group2' }] }));
 */
export function neuronSelectivityTransfer(options: NeuronSelectivityTransferOptions): DistillationPlugin<void> {
  const { pairs, weight, name } = parseOptions(neuronSelectivityTransferSchema, options, 'neuronSelectivityTransfer');
  return definePlugin<void>({
    name,
    label: name,
    weight,
    needsTeacher: true,
    taps: { student: [...new Set(pairs.map((q) => q.student))], teacher: [...new Set(pairs.map((q) => q.teacher))] },
    setup(context) {
      for (const pair of pairs) {
        checkPoolable(
          context.studentShapes[pair.student] ?? [],
          `student "${pair.student}"`,
          context.teacherShapes[pair.teacher] ?? [],
          `teacher "${pair.teacher}"`,
          `Plugin "${name}"`,
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
        return nstLoss(s as tf.Tensor4D, t as tf.Tensor4D);
      });
      return (terms.length === 1 ? terms[0]! : tf.addN(terms)) as tf.Scalar;
    },
  });
}
