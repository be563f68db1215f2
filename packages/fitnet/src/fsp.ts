import { DistillationError, type DistillationPlugin, definePlugin, optionsSchema, parseOptions, weightSchema } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { FitnetError } from './errors';
import { nameSchema, tapSchema } from './options';
import { checkMap, checkPoolable, checkSameBatch, detach, poolToSmaller } from './pooling';

/**
 * The FSP ("flow of solution procedure") matrix of two NHWC maps of one network (Yim et al.
 * 2017): when their spatial sizes differ the larger is average-pooled to the smaller (integer
 * factors), then `G[b, i, j] = sum over positions of first[b, ., ., i] * second[b, ., ., j] / (H * W)`,
 * i.e. `G = F1^T F2 / (H W)` with `F` the `[H*W, C]` flattening: `[B, C1, C2]`. Channel counts
 * may differ. (RepDistiller's `compute_fsp` lays it out `[B, C2, C1]`; the loss is the same.)
 */
export function fspMatrix(first: tf.Tensor4D, second: tf.Tensor4D): tf.Tensor3D {
  const where = 'fspMatrix';
  checkMap(first, 'first', where);
  checkMap(second, 'second', where);
  checkSameBatch(first, 'first', second, 'second', where);
  checkPoolable(first.shape, 'first', second.shape, 'second', where);
  return tf.tidy(() => {
    const [a, b] = poolToSmaller(first, second);
    const [batch, h, w] = a.shape;
    const fa = tf.reshape(a, [batch, h * w, a.shape[3]]);
    const fb = tf.reshape(b, [batch, h * w, b.shape[3]]);
    return tf.div(tf.matMul(fa, fb, true, false), h * w) as tf.Tensor3D;
  });
}

/** Two maps of one network whose FSP matrix is matched: `[first, second]`. */
export type FspMapPair = readonly [tf.Tensor4D, tf.Tensor4D];

/**
 * FSP loss (RepDistiller `FSP`): for each pair, the mean over `[B, C1, C2]` of the squared
 * difference of the student's and the teacher's {@link fspMatrix}; the SUM over pairs. The
 * teacher's matrices are constants. Throws `bad-option` when the lists differ in length or are
 * empty, `feature-shape-mismatch` when a pair's matrices differ in shape (the channel counts of
 * the student's and teacher's maps must agree), and the map errors of {@link fspMatrix}.
 */
export function fspLoss(studentPairs: readonly FspMapPair[], teacherPairs: readonly FspMapPair[]): tf.Scalar {
  if (
    !Array.isArray(studentPairs) ||
    !Array.isArray(teacherPairs) ||
    studentPairs.length === 0 ||
    studentPairs.length !== teacherPairs.length
  ) {
    throw new DistillationError(
      'bad-option',
      `fspLoss: studentPairs and teacherPairs must be non-empty lists of the same length, got ${Array.isArray(studentPairs) ? studentPairs.length : String(studentPairs)} and ${Array.isArray(teacherPairs) ? teacherPairs.length : String(teacherPairs)}`,
    );
  }
  studentPairs.forEach((s, i) => {
    const t = teacherPairs[i]!;
    const where = `fspLoss (pair ${i})`;
    for (const [what, pair] of [
      ['student', s],
      ['teacher', t],
    ] as const) {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new DistillationError('bad-option', `${where}: the ${what} pair must be [first, second], got ${String(pair)}`);
      }
      checkMap(pair[0], `${what} first`, where);
      checkMap(pair[1], `${what} second`, where);
      checkSameBatch(pair[0], `${what} first`, pair[1], `${what} second`, where);
      checkPoolable(pair[0].shape, `${what} first`, pair[1].shape, `${what} second`, where);
    }
    checkSameBatch(s[0], 'student first', t[0], 'teacher first', where);
    if (s[0].shape[3] !== t[0].shape[3] || s[1].shape[3] !== t[1].shape[3]) {
      throw new FitnetError(
        'feature-shape-mismatch',
        `${where}: the student's FSP matrix is ${s[0].shape[3]}x${s[1].shape[3]}, the teacher's ${t[0].shape[3]}x${t[1].shape[3]}: the maps' channel counts must agree`,
      );
    }
  });
  return tf.tidy(() => {
    const terms = studentPairs.map((s, i) => {
      const t = teacherPairs[i]!;
      const teacherMatrix = detach(fspMatrix(t[0], t[1]));
      return tf.mean(tf.squaredDifference(fspMatrix(s[0], s[1]), teacherMatrix));
    });
    return (terms.length === 1 ? terms[0]! : tf.addN(terms)) as tf.Scalar;
  });
}

/** One FSP pair of tapped layers: two student maps and the two teacher maps they match. */
export interface FlowOfSolutionPair {
  /** `[first, second]` student layer names. */
  readonly student: readonly [string, string];
  /** `[first, second]` teacher layer names. */
  readonly teacher: readonly [string, string];
}

/** Options of {@link flowOfSolution}. */
export interface FlowOfSolutionOptions {
  readonly pairs: readonly FlowOfSolutionPair[];
  /** Weight of the term. Default 1 (RepDistiller's init stage trains on the plain sum). */
  readonly weight?: number;
  /** Plugin and loss-term name. Default `fsp`. */
  readonly name?: string;
}

const layerPair = (what: string) =>
  z.tuple([tapSchema(`a tapped ${what} map`), tapSchema(`a tapped ${what} map`)], {
    message: `must be two ${what} layer names [first, second]`,
  });

/** Schema of one {@link FlowOfSolutionPair}. */
export const flowOfSolutionPairSchema = optionsSchema<FlowOfSolutionPair>()({
  student: layerPair('student') as unknown as z.ZodType<readonly [string, string]>,
  teacher: layerPair('teacher') as unknown as z.ZodType<readonly [string, string]>,
});

/** Schema of {@link FlowOfSolutionOptions} (defaults applied). */
export const flowOfSolutionSchema = optionsSchema<FlowOfSolutionOptions>()({
  pairs: z
    .array(flowOfSolutionPairSchema, { message: 'must be a list of { student: [a, b], teacher: [c, d] }' })
    .min(1, { message: 'must be a non-empty list of { student: [a, b], teacher: [c, d] }' }),
  weight: weightSchema.default(1),
  name: nameSchema.default('fsp'),
});

/**
 * FSP (Yim et al., CVPR 2017) as a plugin: the term is {@link fspLoss} of the tapped pairs. In
 * RepDistiller FSP is an INIT stage: the student's feature layers are pre-trained on FSP alone,
 * then the student is distilled with cross-entropy + KD (FSP's weight is 0 there). Run it as
 * the first stage of `fitStages` (`@kd/core`), e.g. with `trainable: trainStudentUpTo(student,
 * lastTappedLayer)`; see the README's recipe. Shapes and channel counts are checked in `setup`.
 *
 * @example
 * flowOfSolution({ pairs: [{ student: ['s_group1', 's_group2'], teacher: ['t_group1', 't_group2'] }] })
 */
export function flowOfSolution(options: FlowOfSolutionOptions): DistillationPlugin<void> {
  const { pairs, weight, name } = parseOptions(flowOfSolutionSchema, options, 'flowOfSolution');
  return definePlugin<void>({
    name,
    label: name,
    weight,
    needsTeacher: true,
    taps: { student: [...new Set(pairs.flatMap((q) => q.student))], teacher: [...new Set(pairs.flatMap((q) => q.teacher))] },
    setup(context) {
      pairs.forEach((pair, i) => {
        const where = `Plugin "${name}" (pair ${i}: student "${pair.student[0]}", "${pair.student[1]}" -> teacher "${pair.teacher[0]}", "${pair.teacher[1]}")`;
        const s = pair.student.map((l) => context.studentShapes[l] ?? []);
        const t = pair.teacher.map((l) => context.teacherShapes[l] ?? []);
        checkPoolable(s[0]!, `student "${pair.student[0]}"`, s[1]!, `student "${pair.student[1]}"`, where);
        checkPoolable(t[0]!, `teacher "${pair.teacher[0]}"`, t[1]!, `teacher "${pair.teacher[1]}"`, where);
        if (s[0]![3] !== t[0]![3] || s[1]![3] !== t[1]![3]) {
          throw new FitnetError(
            'feature-shape-mismatch',
            `${where}: the student's FSP matrix would be ${s[0]![3]}x${s[1]![3]}, the teacher's ${t[0]![3]}x${t[1]![3]}: the maps' channel counts must agree`,
          );
        }
      });
    },
    loss(outputs) {
      const get = (features: Readonly<Record<string, tf.Tensor>> | undefined, layer: string) => {
        const f = features?.[layer];
        if (!f) throw new FitnetError('missing-feature', `Plugin "${name}": the step has no tapped map "${layer}"`);
        return f as tf.Tensor4D;
      };
      const studentPairs = pairs.map(
        (q) => [get(outputs.student.features, q.student[0]), get(outputs.student.features, q.student[1])] as const,
      );
      const teacherPairs = pairs.map(
        (q) => [get(outputs.teacher?.features, q.teacher[0]), get(outputs.teacher?.features, q.teacher[1])] as const,
      );
      return fspLoss(studentPairs, teacherPairs);
    },
  });
}
