import {
  DistillationError,
  type DistillationPlugin,
  type LayerShape,
  optionsSchema,
  type PluginCheckpoint,
  parseOptions,
  weightSchema,
} from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { EmbeddingHead } from './embeddingHead';
import { RelationalError } from './errors';
import { checkPair, flattenExamples } from './features';
import { nameSchema, positiveInt, tapSchema } from './options';
import { featurePairPlugin } from './pairPlugin';

/**
 * Correlation congruence loss (Peng et al., ICCV 2019) in RepDistiller's form
 * (`distiller_zoo/CC.py`, the code the authors sent): with `delta = |e_s - e_t|` per example,
 * the mean over consecutive examples `i = 0 .. B-2` of `sum over features of delta[i] * delta[i+1]`.
 * Student and teacher must have the same shape (`[B, D]` embeddings, or maps flattened per
 * example); gradients reach both inputs (in the plugin, the teacher input is the output of a
 * trained teacher head). Needs `B >= 2`.
 *
 * @param student Student embeddings `[B, D]` (or `[B, H, W, C]`, float32).
 * @param teacher Teacher embeddings of the same shape.
 */
export function correlationCongruenceLoss(student: tf.Tensor, teacher: tf.Tensor): tf.Scalar {
  checkPair(student, teacher, {
    where: 'correlationCongruenceLoss',
    minBatch: 2,
    relation: 'pairs of consecutive examples',
    sameShape: true,
  });
  return tf.tidy(() => {
    const delta = tf.abs(tf.sub(flattenExamples(student), flattenExamples(teacher)));
    const [batch, size] = delta.shape as [number, number];
    const products = tf.mul(tf.slice(delta, [0, 0], [batch - 1, size]), tf.slice(delta, [1, 0], [batch - 1, size]));
    return tf.mean(tf.sum(products, 1)) as tf.Scalar;
  });
}

/** Options of {@link correlationCongruence}. */
export interface CorrelationCongruenceOptions {
  /** Student layer to tap (RepDistiller: the pooled penultimate feature). */
  readonly student: string;
  /** Teacher layer to tap (for an `ensembleTeacher`: `"<member>/<layer>"`). */
  readonly teacher: string;
  /** Size of both embeddings (RepDistiller `--feat_dim`). Default 128. */
  readonly embeddingSize?: number;
  /**
   * L2-normalise each embedding after its linear head. Default false: RepDistiller's CC uses
   * `LinearEmbed` (linear only); `true` gives CRD's `Embed` head (linear + L2 normalisation).
   */
  readonly normalize?: boolean;
  /** Weight of the term (RepDistiller's CIFAR-100 `-b 0.02`). Default 0.02. */
  readonly weight?: number;
  /** Plugin and loss-term name (and prefix of the heads' variable names). Default `cc`. */
  readonly name?: string;
}

/** Schema of {@link CorrelationCongruenceOptions} (defaults applied). */
export const correlationCongruenceSchema = optionsSchema<CorrelationCongruenceOptions>()({
  student: tapSchema('a tapped student layer'),
  teacher: tapSchema('a tapped teacher layer'),
  embeddingSize: positiveInt().default(128),
  normalize: z.boolean({ message: 'must be a boolean' }).default(false),
  weight: weightSchema.default(0.02),
  name: nameSchema.default('cc'),
});

/** State of a CC plugin: its two embedding heads, trained with the student. */
export interface CorrelationCongruenceState {
  readonly studentHead: EmbeddingHead;
  readonly teacherHead: EmbeddingHead;
}

const CHECKPOINT_KEYS = ['student/kernel', 'student/bias', 'teacher/kernel', 'teacher/bias'] as const;

/**
 * Correlation congruence (Peng et al. 2019) as a plugin, set up as RepDistiller does: an
 * {@link EmbeddingHead} (linear, `embeddingSize` 128) on the tapped student layer and another on
 * the tapped teacher layer (each flattened per example), both trained with the student through
 * the `variables` hook, and the term {@link correlationCongruenceLoss} between the two
 * embeddings, weighted by `weight` (default 0.02, RepDistiller's CIFAR-100 value). The teacher
 * network itself receives no gradient. The heads are checkpointed by `state` / `loadState` and
 * freed by `dispose`.
 *
 * @example
 * distiller.use(hardLabel()).use(correlationCongruence({ student: 's_pool', teacher: 't_pool' }));
 */
export function correlationCongruence(options: CorrelationCongruenceOptions): DistillationPlugin<CorrelationCongruenceState> {
  const { student, teacher, embeddingSize, normalize, weight, name } = parseOptions(
    correlationCongruenceSchema,
    options,
    'correlationCongruence',
  );
  return featurePairPlugin<CorrelationCongruenceState>({
    minimumBatch: 2,
    name,
    label: name,
    weight,
    student,
    teacher,
    setup(studentShape, teacherShape, seed) {
      const studentSize = exampleSize(studentShape, 'student', student);
      const teacherSize = exampleSize(teacherShape, 'teacher', teacher);
      const studentHead = new EmbeddingHead(studentSize, embeddingSize, { normalize, seed: seed(), name: `${name}_student` });
      try {
        const teacherHead = new EmbeddingHead(teacherSize, embeddingSize, { normalize, seed: seed(), name: `${name}_teacher` });
        return { studentHead, teacherHead };
      } catch (error) {
        studentHead.dispose();
        throw error;
      }
    },
    variables: (state) => [...state.studentHead.variables, ...state.teacherHead.variables],
    loss(s, t, state) {
      // the raw features first, so a bad batch is refused before the heads run
      checkPair(s, t, { where: 'correlationCongruence', minBatch: 2, relation: 'pairs of consecutive examples' });
      return tf.tidy(() => correlationCongruenceLoss(state.studentHead.apply(s), state.teacherHead.apply(t)));
    },
    state: (state): PluginCheckpoint => ({
      tensors: {
        'student/kernel': state.studentHead.kernel,
        'student/bias': state.studentHead.bias,
        'teacher/kernel': state.teacherHead.kernel,
        'teacher/bias': state.teacherHead.bias,
      },
      json: { embeddingSize, normalize },
    }),
    loadState(state, checkpoint) {
      const tensors = checkpoint.tensors;
      const missing = CHECKPOINT_KEYS.filter((k) => !(tensors[k] instanceof tf.Tensor));
      if (missing.length > 0) {
        throw new DistillationError(
          'checkpoint-mismatch',
          `Plugin "${name}": the checkpoint lacks the head weights ${missing.join(', ')} (has: ${Object.keys(tensors).join(', ') || 'none'})`,
        );
      }
      const json = checkpoint.json as { normalize?: unknown } | undefined;
      if (json && json.normalize !== undefined && json.normalize !== normalize) {
        throw new DistillationError(
          'checkpoint-mismatch',
          `Plugin "${name}": the checkpoint's heads were trained with normalize: ${String(json.normalize)}, this plugin has normalize: ${normalize}`,
        );
      }
      // Every shape is checked before any weight changes.
      state.studentHead.checkWeights(tensors['student/kernel'], tensors['student/bias']);
      state.teacherHead.checkWeights(tensors['teacher/kernel'], tensors['teacher/bias']);
      state.studentHead.setWeights(tensors['student/kernel']!, tensors['student/bias']!);
      state.teacherHead.setWeights(tensors['teacher/kernel']!, tensors['teacher/bias']!);
    },
    dispose(state) {
      state.studentHead.dispose();
      state.teacherHead.dispose();
    },
  });
}

/** Values per example of a tapped shape `[null, ...]`; throws `unknown-size` for a null dimension. */
function exampleSize(shape: LayerShape, role: 'student' | 'teacher', layer: string): number {
  const rest = shape.slice(1);
  if (rest.some((d) => d == null)) {
    throw new RelationalError(
      'unknown-size',
      `the ${role} layer "${layer}" has shape [${shape.map(String)}]; its embedding head needs every non-batch size`,
    );
  }
  return (rest as number[]).reduce((a, d) => a * d, 1);
}
