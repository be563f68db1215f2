import type { LayerShape, SetupContext, StepOutputs } from '@kd/core';
import type * as tf from '@tensorflow/tfjs-core';
import { FitnetError } from './errors';

/** The tapped shapes of a plugin's student and teacher layers at `setup` (`missing-feature` when absent). */
export function tappedShapes(context: SetupContext, name: string, student: string, teacher: string): [LayerShape, LayerShape] {
  const s = context.studentShapes[student];
  const t = context.teacherShapes[teacher];
  if (!s || !t) {
    throw new FitnetError(
      'missing-feature',
      `Plugin "${name}": no tapped shape for ${!s ? `student layer "${student}"` : `teacher layer "${teacher}"`}`,
    );
  }
  return [s, t];
}

/** The step's tapped student and teacher features of a plugin (`missing-feature` when absent). */
export function tappedFeatures(outputs: StepOutputs, name: string, student: string, teacher: string): [tf.Tensor, tf.Tensor] {
  const s = outputs.student.features[student];
  const t = outputs.teacher?.features[teacher];
  if (!s || !t) {
    throw new FitnetError(
      'missing-feature',
      `Plugin "${name}": the step has no tapped ${!s ? `student layer "${student}"` : `teacher layer "${teacher}"`}`,
    );
  }
  return [s, t];
}
