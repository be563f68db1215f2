import { type DistillationPlugin, definePlugin, isDistillationError, optionsSchema, parseOptions, weightSchema } from '@kd/core';
import { z } from 'zod';
import { nameSchema, tapSchema } from './options';
import { HintRegressor, hintLoss } from './regressor';
import { tappedFeatures, tappedShapes } from './tappedPair';

/** Options of {@link fitnet}. */
export interface FitnetOptions {
  /** Student layer to tap: the guided layer. */
  readonly student: string;
  /** Teacher layer to tap: the hint layer (for an `ensembleTeacher`: `"<member>/<layer>"`). */
  readonly teacher: string;
  /** Weight of the term (RepDistiller's joint FitNet: 100). Default 1. */
  readonly weight?: number;
  /** ReLU after the batch norm of a map regressor (RepDistiller `use_relu`). Default true. */
  readonly relu?: boolean;
  /** Plugin and loss-term name. Default `fitnet`. */
  readonly name?: string;
}

/** Schema of {@link FitnetOptions} (defaults applied). */
export const fitnetSchema = optionsSchema<FitnetOptions>()({
  student: tapSchema('a tapped student layer (the guided layer)'),
  teacher: tapSchema('a tapped teacher layer (the hint layer)'),
  weight: weightSchema.default(1),
  relu: z.boolean({ message: 'must be a boolean' }).default(true),
  name: nameSchema.default('fitnet'),
});

/** State of a FitNet plugin: its regressor. */
export interface FitnetState {
  readonly regressor: HintRegressor;
}

/**
 * FitNets hints (Romero et al. 2015; docs/methods.md §6) as a plugin: a {@link HintRegressor}
 * maps the student's guided layer to the shape of the teacher's hint layer, and the term is the
 * MSE between them (mean over every element). The regressor is chosen from the tapped shapes
 * (dense for vectors; conv / strided conv / transposed conv + batch norm + ReLU for NHWC maps,
 * as RepDistiller's `ConvReg`) and trained with the student through the `variables` hook.
 *
 * Single stage (RepDistiller): `use(hardLabel()).use(fitnet({ ..., weight: 100 }))`.
 * Two stages (the paper): hints alone on the student up to the guided layer, then KD; see
 * `fitStages` and `trainStudentUpTo` in `@kd/core` and this package's README.
 *
 * @example
 * distiller.use(fitnet({ student: 'student_dense1', teacher: 'teacher_dense2', weight: 100 }));
 */
export function fitnet(options: FitnetOptions): DistillationPlugin<FitnetState> {
  const { student, teacher, weight, relu, name } = parseOptions(fitnetSchema, options, 'fitnet');

  return definePlugin<FitnetState>({
    name,
    label: name,
    weight,
    needsTeacher: true,
    taps: { student: [student], teacher: [teacher] },
    setup(context) {
      const [studentShape, teacherShape] = tappedShapes(context, name, student, teacher);
      try {
        return { regressor: new HintRegressor(studentShape, teacherShape, { seed: context.random.seed(), name, relu }) };
      } catch (error) {
        if (isDistillationError(error)) error.message = `Plugin "${name}" (student "${student}" -> teacher "${teacher}"): ${error.message}`;
        throw error;
      }
    },
    variables: (state) => state.regressor.variables,
    loss(outputs, context) {
      const [s, t] = tappedFeatures(outputs, name, student, teacher);
      return hintLoss(context.state.regressor.apply(s), t);
    },
    state: (state) => ({ tensors: state.regressor.weights(), json: { kind: state.regressor.kind } }),
    loadState(state, checkpoint) {
      state.regressor.setWeights(checkpoint.tensors);
    },
    dispose(state) {
      state.regressor.dispose();
    },
  });
}
