import { type DistillationPlugin, definePlugin, isDistillationError, type LayerShape, type StepOutputs } from '@kd/core';
import type * as tf from '@tensorflow/tfjs-core';
import { RelationalError } from './errors';

/** What {@link featurePairPlugin} builds a plugin from (not exported from the package). */
export interface FeaturePairSpec<State> {
  readonly name: string;
  readonly label: string;
  readonly weight: number;
  readonly student: string;
  readonly teacher: string;
  /** The fewest examples a batch needs (2 for pairs, 3 for triples): `fit` refuses smaller batches up front. */
  readonly minimumBatch: number;
  /** Builds the state from the two tapped shapes (checked: rank 2 or 4). */
  readonly setup: (studentShape: LayerShape, teacherShape: LayerShape, seed: () => number) => State;
  /** The term from the step's two features. */
  readonly loss: (student: tf.Tensor, teacher: tf.Tensor, state: State) => tf.Scalar;
  readonly variables?: (state: State) => tf.Variable[];
  readonly state?: DistillationPlugin<State>['state'];
  readonly loadState?: DistillationPlugin<State>['loadState'];
  readonly dispose?: (state: State) => void;
}

/**
 * A plugin that taps one student layer and one teacher layer and adds one term computed from
 * the pair. `setup` rejects tapped layers that are not `[batch, features]` or NHWC maps before the
 * first step; errors of the loss are prefixed with the plugin and layer names.
 */
export function featurePairPlugin<State>(spec: FeaturePairSpec<State>): DistillationPlugin<State> {
  const { name, student, teacher } = spec;
  const where = `Plugin "${name}" (student "${student}", teacher "${teacher}")`;
  const annotate = (error: unknown): never => {
    if (isDistillationError(error) && !error.message.startsWith('Plugin ')) error.message = `${where}: ${error.message}`;
    throw error;
  };

  const features = (outputs: StepOutputs): [tf.Tensor, tf.Tensor] => {
    const s = outputs.student.features[student];
    const t = outputs.teacher?.features[teacher];
    if (!s || !t) {
      throw new RelationalError(
        'missing-feature',
        `${where}: the step has no tapped ${!s ? `student layer "${student}"` : `teacher layer "${teacher}"`}`,
      );
    }
    return [s, t];
  };

  return definePlugin<State>({
    name,
    label: spec.label,
    weight: spec.weight,
    minimumBatch: spec.minimumBatch,
    needsTeacher: true,
    taps: { student: [student], teacher: [teacher] },
    setup(context) {
      const studentShape = context.studentShapes[student];
      const teacherShape = context.teacherShapes[teacher];
      if (!studentShape || !teacherShape) {
        throw new RelationalError(
          'missing-feature',
          `${where}: no tapped shape for ${!studentShape ? `student layer "${student}"` : `teacher layer "${teacher}"`}`,
        );
      }
      for (const [role, shape] of [
        ['student', studentShape],
        ['teacher', teacherShape],
      ] as const) {
        if (shape.length !== 2 && shape.length !== 4) {
          throw new RelationalError(
            'unsupported-rank',
            `${where}: the ${role} layer's output [${shape.map(String)}] is neither [batch, features] nor an NHWC map [batch, height, width, channels]`,
          );
        }
      }
      try {
        return spec.setup(studentShape, teacherShape, () => context.random.seed());
      } catch (error) {
        return annotate(error);
      }
    },
    ...(spec.variables ? { variables: spec.variables } : {}),
    loss(outputs, context) {
      const [s, t] = features(outputs);
      try {
        return spec.loss(s, t, context.state);
      } catch (error) {
        return annotate(error);
      }
    },
    ...(spec.state ? { state: spec.state } : {}),
    ...(spec.loadState ? { loadState: spec.loadState } : {}),
    ...(spec.dispose ? { dispose: spec.dispose } : {}),
  });
}
