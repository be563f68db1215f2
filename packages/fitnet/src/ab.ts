import {
  DistillationError,
  type DistillationPlugin,
  definePlugin,
  isDistillationError,
  optionsSchema,
  parseOptions,
  weightSchema,
} from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { FitnetError } from './errors';
import { nameSchema, tapSchema } from './options';
import { checkSameBatch, detach } from './pooling';
import { HintRegressor } from './regressor';
import { tappedFeatures, tappedShapes } from './tappedPair';

/** Options of {@link activationBoundaryLoss}. */
export interface ActivationBoundaryLossOptions {
  /** The margin m of the squared hinge on both sides of the boundary. Default 1 (RepDistiller). */
  readonly margin?: number;
}

const marginSchema = z.number({ message: 'must be a finite number > 0' }).positive({ message: 'must be > 0' });

/** Schema of {@link ActivationBoundaryLossOptions} (defaults applied). */
export const activationBoundaryLossSchema = optionsSchema<ActivationBoundaryLossOptions>()({
  margin: marginSchema.default(1),
});

/**
 * Activation-boundary loss (Heo et al., AAAI 2019; RepDistiller `ABLoss`): with `s` the
 * connected student pre-activation and `t` the teacher pre-activation of one shape, the sum over
 * every element of `(s + m)^2 [s > -m and t <= 0] + (s - m)^2 [s <= m and t > 0]` (a squared
 * hinge pushing `s` past the teacher's side of the ReLU boundary by the margin `m`), divided by
 * the batch size and multiplied by `3 / 1000`, as the reference normalises it. The indicators
 * are constants for the gradient; the teacher gets none.
 *
 * Throws `bad-option` / `unknown-option` (options, non-tensors), `batch-size-mismatch` and
 * `feature-shape-mismatch` before any work.
 */
export function activationBoundaryLoss(
  studentPre: tf.Tensor,
  teacherPre: tf.Tensor,
  options: ActivationBoundaryLossOptions = {},
): tf.Scalar {
  const where = 'activationBoundaryLoss';
  const { margin } = parseOptions(activationBoundaryLossSchema, options, where);
  for (const [what, t] of [
    ['studentPre', studentPre],
    ['teacherPre', teacherPre],
  ] as const) {
    if (!(t instanceof tf.Tensor)) throw new DistillationError('bad-option', `${where}: ${what} must be a tensor, got ${String(t)}`);
  }
  checkSameBatch(studentPre, 'studentPre', teacherPre, 'teacherPre', where);
  if (studentPre.rank !== teacherPre.rank || studentPre.shape.some((d, i) => d !== teacherPre.shape[i])) {
    throw new FitnetError(
      'feature-shape-mismatch',
      `${where}: the connected student feature [${studentPre.shape}] and the teacher feature [${teacherPre.shape}] differ in shape`,
    );
  }
  return tf.tidy(() => {
    // The indicators, as float masks from tf.step (x > 0 ? 1 : 0, zero gradient): a boolean op on
    // the tape would have no gradient function.
    const t = detach(teacherPre);
    const s = detach(studentPre);
    const teacherOn = tf.step(t); // t > 0
    const below = tf.mul(tf.step(tf.add(s, margin)), tf.sub(1, teacherOn)); // s > -m and t <= 0
    const above = tf.mul(tf.sub(1, tf.step(tf.sub(s, margin))), teacherOn); // s <= m and t > 0
    const terms = tf.add(tf.mul(below, tf.square(tf.add(studentPre, margin))), tf.mul(above, tf.square(tf.sub(studentPre, margin))));
    return tf.mul(tf.sum(terms), 3 / 1000 / studentPre.shape[0]!) as tf.Scalar;
  });
}

/** Options of {@link activationBoundary}. */
export interface ActivationBoundaryOptions {
  /** Student layer to tap: a PRE-activation feature (the output before the ReLU). */
  readonly student: string;
  /** Teacher layer to tap: the matching pre-activation feature. */
  readonly teacher: string;
  /** Margin m. Default 1. */
  readonly margin?: number;
  /** Weight of the term. Default 1 (RepDistiller's init stage trains on the plain loss). */
  readonly weight?: number;
  /** Plugin and loss-term name. Default `ab`. */
  readonly name?: string;
}

/** Schema of {@link ActivationBoundaryOptions} (defaults applied). */
export const activationBoundarySchema = optionsSchema<ActivationBoundaryOptions>()({
  student: tapSchema('a tapped student layer (a pre-activation feature)'),
  teacher: tapSchema('a tapped teacher layer (a pre-activation feature)'),
  margin: marginSchema.default(1),
  weight: weightSchema.default(1),
  name: nameSchema.default('ab'),
});

/** State of an AB plugin: its connector. */
export interface ActivationBoundaryState {
  /** The connector: conv (1x1 for equal sizes) + batch norm, no ReLU (a {@link HintRegressor} with `relu: false`). */
  readonly connector: HintRegressor;
}

/**
 * Activation-boundary distillation (Heo et al., AAAI 2019) as a plugin: a connector (RepDistiller
 * `ConvReg(use_relu=False)`: conv + batch norm, 1x1 when the sizes agree; linear for vectors)
 * maps the student's pre-activation feature to the teacher's, and the term is
 * {@link activationBoundaryLoss}. In RepDistiller AB is an INIT stage: the connector and the
 * student's feature layers train on AB alone for some epochs, then the student is distilled with
 * cross-entropy + KD (AB's weight 0). Run it as the first stage of `fitStages` (`@kd/core`); the
 * connector is trained, checkpointed and disposed with its stage. Unlike RepDistiller, a
 * connector is used even when the shapes already agree (the paper's form).
 * To weight several layers as the reference does (`2^(i - n + 1)` for layer i of n), use one
 * plugin per layer with distinct `name`s and those weights.
 *
 * @example
 * activationBoundary({ student: 's_block2_pre', teacher: 't_block2_pre', margin: 1 })
 */
export function activationBoundary(options: ActivationBoundaryOptions): DistillationPlugin<ActivationBoundaryState> {
  const { student, teacher, margin, weight, name } = parseOptions(activationBoundarySchema, options, 'activationBoundary');
  return definePlugin<ActivationBoundaryState>({
    name,
    label: margin === 1 ? name : `${name}(m=${margin})`,
    weight,
    needsTeacher: true,
    taps: { student: [student], teacher: [teacher] },
    setup(context) {
      const [s, t] = tappedShapes(context, name, student, teacher);
      try {
        return { connector: new HintRegressor(s, t, { seed: context.random.seed(), name, relu: false }) };
      } catch (error) {
        if (isDistillationError(error)) error.message = `Plugin "${name}" (student "${student}" -> teacher "${teacher}"): ${error.message}`;
        throw error;
      }
    },
    variables: (state) => state.connector.variables,
    loss(outputs, context) {
      const [s, t] = tappedFeatures(outputs, name, student, teacher);
      return tf.tidy(() => activationBoundaryLoss(context.state.connector.apply(s), t, { margin }));
    },
    state: (state) => ({ tensors: state.connector.weights(), json: { kind: state.connector.kind } }),
    loadState(state, checkpoint) {
      state.connector.setWeights(checkpoint.tensors);
    },
    dispose(state) {
      state.connector.dispose();
    },
  });
}
