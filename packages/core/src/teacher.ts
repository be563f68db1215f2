import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import type { LabeledData } from './batch';
import { sha256Digest } from './digest';
import { DistillationError } from './errors';
import { modelFingerprint } from './fingerprints';
import { optionsSchema, parseOptions } from './options';
import type { EnsembleMean, TeacherPrediction } from './plugin';
import type { DataSource, ExampleId } from './source';
import { type LayerShape, TappedModel } from './taps';
import { ensembleOutputs } from './teacherOutputs';

/** Any model-like object with a `predict` returning logits (e.g. a tfjs GraphModel). */
export interface PredictingModel {
  predict(x: tf.Tensor): tf.Tensor | tf.Tensor[];
}

/** A function from inputs to logits `[batch, classes]`. */
export type TeacherFunction = (x: tf.Tensor) => tf.Tensor;

/** What a Distiller accepts as a teacher. */
export type TeacherLike = tfl.LayersModel | PredictingModel | TeacherFunction | Teacher;

/** What a {@link Teacher} learns about the batch besides its input tensor. */
export interface TeacherBatch {
  /** The stable id of each example, in row order (a source's ids; positions for tensors). */
  readonly ids: readonly ExampleId[];
  /**
   * `ids` as an int32 tensor `[batch]`, given only when the ids are the examples' positions in
   * the training data (in-memory tensors): a cache may gather its rows by it, with no lookup and
   * no upload of its own. Borrowed for the call: do not dispose or keep it.
   */
  readonly positions?: tf.Tensor1D;
  /**
   * True when a plugin's `transformBatch` replaced the teacher's input this step (it is not the
   * example as read): outputs kept or stored per example do not hold for it.
   */
  readonly transformed?: boolean;
}

/** What a teacher learns at the start of every Distiller `fit` (see {@link Teacher.begin}). */
export interface TeacherRun {
  /** The training data as the Distiller reads it (in-memory tensors are wrapped by `tensorSource`). */
  readonly source: DataSource;
  /** The in-memory tensors behind `source`, when the data was given as tensors. */
  readonly tensors?: LabeledData;
  /** The teacher layers the plugins tap (already passed to `tap`). */
  readonly taps: readonly string[];
  /** Plugins that declare `changesTeacherInput`: the teacher's input is transformed every step. */
  readonly inputChangers: readonly string[];
}

/**
 * A frozen teacher: computes logits (and tapped features) without gradients. Build one with
 * {@link toTeacher} or {@link ensembleTeacher}; any {@link TeacherLike} is accepted where a
 * teacher is expected.
 */
export interface Teacher {
  readonly kind: 'kd-teacher';
  readonly description: string;
  /**
   * The number of classes of its logits, when the teacher knows it without running (a stored
   * teacher reads it from its manifest). The Distiller and `evaluateModel` then check it instead
   * of probing the teacher with one example.
   */
  readonly numClasses?: number;
  /**
   * True for a teacher whose outputs were computed ahead for the untransformed inputs (a stored
   * teacher): the Distiller refuses it when a plugin declares `changesTeacherInput`.
   */
  readonly precomputed?: boolean;
  /**
   * Hex content fingerprint of what the teacher computes: changes whenever its outputs may change
   * (a LayersModel's architecture and weights; an ensemble's members and mean). Absent for teachers
   * kd cannot see into (functions, GraphModels). Caches and stores key outputs by it.
   */
  fingerprint?(): Promise<string>;
  /**
   * Called by the Distiller at the start of every `fit`, after `tap`, before the first step:
   * teachers that keep state per data set (a cache) prepare or refuse the run here.
   */
  begin?(run: TeacherRun): Promise<void>;
  /** Called by the Distiller when a `fit` ends (also when it fails): finish pending work. */
  end?(): Promise<void>;
  /** Prepares taps; throws listing the available layers when a name is unknown. */
  tap(names: readonly string[]): Readonly<Record<string, LayerShape>>;
  /**
   * Runs the teacher in inference mode on `x` (the batch's teacher input, after every plugin's
   * transforms). `batch` names the examples (`ids`, in row order) for teachers that look outputs
   * up instead of computing them; model teachers ignore it. Call outside any gradient tape.
   */
  predict(x: tf.Tensor, batch?: TeacherBatch): TeacherPrediction;
}

export function isTeacher(value: unknown): value is Teacher {
  return typeof value === 'object' && value !== null && (value as Teacher).kind === 'kd-teacher';
}

/** Normalises any {@link TeacherLike} into a {@link Teacher}. */
export function toTeacher(teacher: TeacherLike): Teacher {
  if (isTeacher(teacher)) return teacher;
  if (teacher instanceof tfl.LayersModel) return layersTeacher(teacher);
  if (typeof teacher === 'function') return functionTeacher(teacher, teacher.name || 'function');
  if (typeof teacher === 'object' && teacher !== null && typeof teacher.predict === 'function') {
    return functionTeacher((x) => {
      const out = teacher.predict(x);
      return Array.isArray(out) ? out[0]! : out;
    }, 'model');
  }
  throw new DistillationError(
    'bad-teacher',
    'A teacher must be a LayersModel, an object with predict(x), a function (x) => logits, or an ensembleTeacher',
  );
}

function layersTeacher(model: tfl.LayersModel): Teacher {
  let tapped = new TappedModel(model, [], 'teacher');
  return {
    kind: 'kd-teacher',
    description: `LayersModel "${model.name}"`,
    fingerprint: () => modelFingerprint(model),
    tap(names) {
      tapped = new TappedModel(model, names, 'teacher');
      return tapped.shapes;
    },
    predict(x) {
      return tf.tidy(() => tapped.run(x, false) as unknown as tf.TensorContainer) as unknown as TeacherPrediction;
    },
  };
}

function functionTeacher(fn: TeacherFunction, name: string): Teacher {
  return {
    kind: 'kd-teacher',
    description: `function teacher "${name}"`,
    tap(names) {
      if (names.length > 0) {
        throw new DistillationError(
          'teacher-not-tappable',
          `Plugins tap teacher layers [${names.join(', ')}], but the teacher is a ${name} teacher; taps need a LayersModel teacher.`,
        );
      }
      return {};
    },
    predict(x) {
      return tf.tidy(() => ({ logits: fn(x) as tf.Tensor2D, features: {} }) as tf.TensorContainer) as unknown as TeacherPrediction;
    },
  };
}

/** Options of {@link ensembleTeacher}. */
export interface EnsembleOptions {
  /**
   * How the members' distributions are combined at every temperature: `'arithmetic'` (mean of
   * probabilities, Hinton's ensemble) or `'geometric'` (mean of log-probabilities, renormalised).
   */
  readonly mean?: EnsembleMean;
}

/** Schema of {@link EnsembleOptions}. */
export const ensembleOptionsSchema = optionsSchema<EnsembleOptions>()({ mean: z.enum(['arithmetic', 'geometric']).default('arithmetic') });

/**
 * An ensemble of teachers whose soft targets are the arithmetic (default) or geometric mean of
 * the members' softened distributions (docs/methods.md §4).
 *
 * Taps are addressed as `"<member index>/<layer name>"`, e.g. `"0/pool"`.
 */
export function ensembleTeacher(members: readonly TeacherLike[], options: EnsembleOptions = {}): Teacher {
  const { mean } = parseOptions(ensembleOptionsSchema, options, 'ensembleTeacher');
  if (!Array.isArray(members) || members.length === 0) {
    throw new DistillationError('bad-option', 'ensembleTeacher: members must be a non-empty list of teachers');
  }
  const teachers = members.map(toTeacher);
  // Members that declare their classes must agree; the ensemble declares them when all do.
  const declared = teachers.map((t) => t.numClasses).filter((c): c is number => c !== undefined);
  if (declared.some((c) => c !== declared[0])) {
    throw new DistillationError(
      'ensemble-mismatch',
      `ensembleTeacher: members declare different numbers of classes [${declared.join(', ')}]`,
    );
  }
  let routes: { member: number; layer: string; name: string }[] = [];
  return {
    kind: 'kd-teacher',
    description: `ensemble of ${teachers.length} (${mean} mean): ${teachers.map((t) => t.description).join(', ')}`,
    ...(declared.length === teachers.length ? { numClasses: declared[0] } : {}),
    // One precomputed member makes the ensemble's outputs hold for untransformed inputs only.
    ...(teachers.some((t) => t.precomputed) ? { precomputed: true } : {}),
    ...(teachers.every((t) => t.fingerprint) ? { fingerprint: () => ensembleFingerprint(teachers, mean) } : {}),
    async begin(run) {
      // Members see the taps routed to them.
      for (const [i, t] of teachers.entries()) {
        const taps = routes.filter((r) => r.member === i).map((r) => r.layer);
        await t.begin?.({ ...run, taps });
      }
    },
    async end() {
      for (const t of teachers) await t.end?.();
    },
    tap(names) {
      routes = names.map((name) => {
        const match = /^(\d+)\/(.+)$/.exec(name);
        const member = match ? Number(match[1]) : -1;
        if (!match || member >= teachers.length) {
          throw new DistillationError(
            'unknown-layer',
            `Ensemble taps are "<member>/<layer>" with member in 0..${teachers.length - 1}; got "${name}"`,
          );
        }
        return { member, layer: match[2]!, name };
      });
      const shapes: Record<string, LayerShape> = {};
      teachers.forEach((teacher, i) => {
        const mine = routes.filter((r) => r.member === i);
        const memberShapes = teacher.tap(mine.map((r) => r.layer));
        for (const r of mine) shapes[r.name] = memberShapes[r.layer]!;
      });
      return shapes;
    },
    predict(x, batch) {
      const { members, features } = tf.tidy(() => {
        const outputs = teachers.map((t) => t.predict(x, batch));
        const shape0 = outputs[0]!.logits.shape;
        outputs.forEach((o, i) => {
          if (o.logits.rank !== 2 || o.logits.shape[1] !== shape0[1]) {
            throw new DistillationError(
              'ensemble-mismatch',
              `Ensemble member ${i} outputs shape [${o.logits.shape}], member 0 [${shape0}]: members must agree on classes`,
            );
          }
        });
        const stacked = tf.stack(outputs.map((o) => o.logits)) as tf.Tensor3D;
        const tapped: Record<string, tf.Tensor> = {};
        for (const r of routes) tapped[r.name] = outputs[r.member]!.features[r.layer]!;
        return { members: stacked, features: tapped };
      });
      return ensembleOutputs(members, mean, features);
    },
  };
}

/** SHA-256 over the mean and the members' fingerprints, in order. */
async function ensembleFingerprint(teachers: readonly Teacher[], mean: EnsembleMean): Promise<string> {
  const digest = sha256Digest().update(`kd-ensemble/${mean}`);
  for (const t of teachers) digest.update(`\n${await t.fingerprint!()}`);
  return digest.hex();
}
