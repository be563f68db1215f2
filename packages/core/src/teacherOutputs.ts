import * as tf from '@tensorflow/tfjs-core';
import type { EnsembleMean, TeacherOutputs, TeacherPrediction } from './plugin';

/** Ensemble detail kept on an ensemble's outputs for kd's caches; not part of the contract. */
const ENSEMBLE = Symbol.for('@kd/ensemble-outputs');

/** The members' logits `[members, batch, classes]` and how they are combined. */
export interface EnsembleDetail {
  readonly members: tf.Tensor3D;
  readonly mean: EnsembleMean;
}

/**
 * Completes a teacher's prediction into {@link TeacherOutputs}: keeps its own
 * `logProbabilities` when it has one, else `logSoftmax(logits / T)`. Use it when writing a
 * `Teacher` whose distribution at T is not its logits divided by T.
 */
export function toTeacherOutputs(prediction: TeacherPrediction): TeacherOutputs {
  if (typeof prediction.logProbabilities === 'function') return prediction as TeacherOutputs;
  return {
    ...prediction,
    logProbabilities: (temperature: number) => tf.tidy(() => tf.logSoftmax(tf.div(prediction.logits, temperature)) as tf.Tensor2D),
  };
}

/**
 * Outputs of an ensemble: `logits` are the combined log-probabilities at T = 1, and
 * `logProbabilities(T)` combines the members' distributions AT T (arithmetic: mean of
 * `softmax(v_m / T)`, as `logSumExp - log M`; geometric: mean of log-probabilities, renormalised).
 */
export function ensembleOutputs(members: tf.Tensor3D, mean: EnsembleMean, features: Readonly<Record<string, tf.Tensor>>): TeacherOutputs {
  const combine = (temperature: number) =>
    tf.tidy(() => {
      const logProbabilities = tf.logSoftmax(tf.div(members, temperature)) as tf.Tensor3D;
      if (mean === 'geometric') return tf.logSoftmax(tf.mean(logProbabilities, 0)) as tf.Tensor2D;
      return tf.sub(tf.logSumExp(logProbabilities, 0), Math.log(members.shape[0])) as tf.Tensor2D;
    });
  const outputs = { logits: combine(1), features, logProbabilities: combine };
  Object.defineProperty(outputs, ENSEMBLE, { value: { members, mean } satisfies EnsembleDetail });
  return outputs;
}

/** The ensemble detail of outputs made by {@link ensembleOutputs}, else undefined. */
export function ensembleDetail(outputs: TeacherPrediction): EnsembleDetail | undefined {
  return (outputs as { [ENSEMBLE]?: EnsembleDetail })[ENSEMBLE];
}

/** Every tensor of a prediction (to dispose it outside a scope). */
export function predictionTensors(outputs: TeacherPrediction): tf.Tensor[] {
  const detail = ensembleDetail(outputs);
  return [outputs.logits, ...Object.values(outputs.features), ...(detail ? [detail.members] : [])];
}
