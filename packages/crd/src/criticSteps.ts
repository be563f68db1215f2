import { type Batch, DistillationError, type DistillationPlugin, type LossTerms, type SeededRandom, type StepOutputs } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import type { CrdCriticResult } from './critic';
import type { CriticSpec } from './criticSetup';
import { CrdError } from './errors';

/** What the step hooks need of a critic (banks or queues), scored on samples `S`. */
export interface StepCritic<S> {
  readonly variables: tf.Variable[];
  loss(studentFeatures: tf.Tensor, teacherFeatures: tf.Tensor, sample: S): CrdCriticResult;
  update(index: Int32Array, studentEmbedding: tf.Tensor2D, teacherEmbedding: tf.Tensor2D): void;
  dispose(): void;
}

/** The part of a CRD plugin's state the step hooks read and write. */
export interface CriticStepState<S extends { readonly index: Int32Array }> {
  readonly critics: readonly StepCritic<S>[];
  /** Sample drawn by `transformBatch` for the current step. */
  pending?: { readonly step: number; readonly sample: S };
  /** Embeddings handed from `loss` to `afterStep`. */
  embeddings?: { readonly step: number; readonly sample: S; readonly pairs: [tf.Tensor2D, tf.Tensor2D][] };
}

/** The hooks {@link criticStepHooks} provides. */
export type CriticStepHooks<State> = Required<
  Pick<DistillationPlugin<State>, 'variables' | 'transformBatch' | 'loss' | 'afterStep' | 'dispose'>
>;

/**
 * The step hooks shared by both memories: `transformBatch` draws the step's sample with `draw`
 * (`loss` draws it itself when none is pending for the step), `loss` scores every spec's tapped
 * features with its critic (one term per spec label when `ensemble`, else the first term) and keeps
 * the embeddings, `afterStep` hands them to the critics' `update`; `variables` and `dispose` cover
 * all critics.
 */
export function criticStepHooks<S extends { readonly index: Int32Array }, State extends CriticStepState<S>>(
  specs: readonly CriticSpec[],
  name: string,
  ensemble: boolean,
  draw: (state: State, index: ArrayLike<number>, random: SeededRandom) => S,
): CriticStepHooks<State> {
  return {
    variables(state) {
      return state.critics.flatMap((c) => c.variables);
    },

    async transformBatch(batch, context) {
      const index = await indexOf(batch, name).data();
      context.state.pending = { step: context.step, sample: draw(context.state, index, context.random) };
      return batch;
    },

    loss(outputs: StepOutputs, context): LossTerms {
      const state = context.state;
      if (!outputs.teacher) {
        throw new DistillationError('no-teacher', `Plugin "${name}" needs teacher outputs`);
      }
      let sample = state.pending?.step === context.step ? state.pending.sample : undefined;
      if (!sample) sample = draw(state, indexOf(outputs.batch, name).dataSync(), context.random);
      const terms: Record<string, tf.Scalar> = {};
      const pairs: [tf.Tensor2D, tf.Tensor2D][] = [];
      specs.forEach((spec, i) => {
        const fs = feature(outputs.student.features, spec.student, 'student', name);
        const ft = feature(outputs.teacher!.features, spec.teacher, 'teacher', name);
        const result = state.critics[i]!.loss(fs, ft, sample);
        pairs.push([context.keep(result.studentEmbedding), context.keep(result.teacherEmbedding)]);
        terms[spec.label] = result.loss;
      });
      state.embeddings = { step: context.step, sample, pairs };
      return ensemble ? terms : terms[specs[0]!.label]!;
    },

    afterStep(_outputs, context) {
      const state = context.state;
      const kept = state.embeddings;
      state.pending = undefined;
      state.embeddings = undefined;
      if (!kept || kept.step !== context.step) return;
      kept.pairs.forEach(([vS, vT], i) => {
        state.critics[i]!.update(kept.sample.index, vS, vT);
      });
    },

    dispose(state) {
      for (const c of state.critics) c.dispose();
      state.pending = undefined;
      state.embeddings = undefined;
    },
  };
}

function indexOf(batch: Batch, name: string): tf.Tensor1D {
  const index = batch?.index;
  if (!(index instanceof tf.Tensor)) {
    throw new CrdError(
      'missing-indices',
      `Plugin "${name}" needs the sample index of every example (batch.index [batch] int32); the batch has none`,
    );
  }
  if (index.rank !== 1 || index.shape[0] !== batch.x.shape[0]) {
    throw new CrdError(
      'missing-indices',
      `Plugin "${name}": batch.index must be [${batch.x.shape[0]}] (one index per example), got [${index.shape}]`,
    );
  }
  return index as tf.Tensor1D;
}

function feature(features: Readonly<Record<string, tf.Tensor>>, layer: string, role: string, plugin: string): tf.Tensor {
  const f = features[layer];
  if (!f) {
    throw new DistillationError(
      'unknown-layer',
      `Plugin "${plugin}": no tapped ${role} feature "${layer}" in this step (tapped: ${Object.keys(features).join(', ') || 'none'})`,
    );
  }
  return f;
}
