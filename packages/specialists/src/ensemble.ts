import {
  DistillationError,
  type LayerShape,
  parseOptions,
  sha256Digest,
  type Teacher,
  type TeacherBatch,
  type TeacherLike,
  type TeacherPrediction,
  type TeacherRun,
  toTeacher,
} from '@kd/core';
import type * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { type CombineOptions, type CombineResult, checkGeneralist, checkSpecialists, combineSchema, combineWith } from './combine';
import { SpecialistsError } from './errors';
import { checkSubset, type Specialist } from './specialist';

/**
 * A generalist plus specialists, combined per example by {@link combineDistributions}
 * (paper sect. 5.3). It implements `@kd/core`'s `Teacher`: `predict(x).logits` is `log q`, so a
 * `Distiller` with `softTargets` distils the whole ensemble back into one student (the step the
 * paper left undone). Teacher taps are not supported (there is no single layer to tap).
 *
 * Members may be teachers that look their outputs up by id instead of computing them (a stored
 * teacher of `@kd/teacher-store`): `predict(x, batch)` forwards the batch's ids to the generalist,
 * and to each specialist the ids of the rows it runs on, in row order. The ensemble declares
 * `numClasses` when it is known without running, so the Distiller and `evaluateModel` do not
 * probe it (see {@link SpecialistEnsemble.numClasses}), and `precomputed` when any member is
 * precomputed.
 *
 * The ensemble does not own the models: dispose them yourself. The options and the specialists
 * (`{ model, classes }`) are checked on construction (`unknown-option`, `bad-option`; `bad-subset`
 * for classes outside a declared `numClasses`, `specialist-output-mismatch` for a specialist
 * that declares other than `classes.length + 1` outputs).
 */
export class SpecialistEnsemble implements Teacher {
  readonly kind = 'kd-teacher' as const;
  readonly description: string;
  /**
   * The number of classes of `log q`, when known without running: the generalist's declared
   * `numClasses`; else, when a specialist declares its own (a stored teacher, which a probe
   * without ids could not run), the width of a LayersModel generalist's 2-D logits. Otherwise
   * undefined: the Distiller then probes the ensemble with one example, which also checks that
   * the generalist takes the inputs.
   */
  readonly numClasses?: number;
  /**
   * True when the generalist or a specialist is precomputed (a stored teacher): the ensemble's
   * outputs then hold for the untransformed inputs only, and the Distiller refuses it with a
   * plugin that changes the teacher's input.
   */
  readonly precomputed?: boolean;
  private readonly generalist: Teacher;
  private readonly members: { readonly teacher: Teacher; readonly classes: readonly number[] }[];

  constructor(
    generalist: TeacherLike,
    readonly specialists: readonly Specialist[],
    readonly options: CombineOptions = {},
  ) {
    const { topN, steps, lr, solver } = parseOptions(combineSchema, options, 'SpecialistEnsemble');
    checkGeneralist(generalist, 'SpecialistEnsemble');
    checkSpecialists(specialists, 'SpecialistEnsemble');
    this.generalist = toTeacher(generalist);
    this.members = specialists.map((s) => ({ teacher: toTeacher(s.model), classes: [...s.classes] }));
    // A model generalist is probed (which also checks its input shape), unless a specialist
    // declares its classes: such a member (a stored teacher) could not run on a probe without ids.
    const numClasses =
      this.generalist.numClasses ?? (this.members.some((s) => s.teacher.numClasses !== undefined) ? layersClasses(generalist) : undefined);
    specialists.forEach((s, m) =>
      checkSubset(s.classes, numClasses ?? Number.POSITIVE_INFINITY, `SpecialistEnsemble: specialist ${m} classes`),
    );
    this.members.forEach((s, m) => {
      if (s.teacher.numClasses !== undefined && s.teacher.numClasses !== s.classes.length + 1) {
        throw new SpecialistsError(
          'specialist-output-mismatch',
          `SpecialistEnsemble: specialist ${m} covers ${s.classes.length} classes and must output ${s.classes.length + 1} logits (last = dustbin); it declares ${s.teacher.numClasses}`,
        );
      }
    });
    if (numClasses !== undefined) this.numClasses = numClasses;
    // One precomputed member makes the combination hold for untransformed inputs only.
    if (this.generalist.precomputed || this.members.some((s) => s.teacher.precomputed)) this.precomputed = true;
    const teachers = [this.generalist, ...this.members.map((s) => s.teacher)];
    if (teachers.every((t) => t.fingerprint)) {
      const settings = JSON.stringify({ topN, steps, lr, solver, classes: this.members.map((s) => s.classes) });
      this.fingerprint = async () => {
        const digest = sha256Digest().update(`kd-specialist-ensemble/v1\n${settings}`);
        for (const t of teachers) digest.update(`\n${await t.fingerprint!()}`);
        return digest.hex();
      };
    }
    const how = solver === 'em' ? `${steps} EM steps` : `${steps} gradient steps, lr ${lr}`;
    this.description =
      `generalist + ${specialists.length} specialists (KL-combined, top-${topN}, ${how}): ` +
      `${this.generalist.description}; specialists on [${specialists.map((s) => `{${s.classes.join(',')}}`).join(' ')}]`;
  }

  /**
   * SHA-256 of the combination settings, the generalist's fingerprint and each specialist's
   * classes and fingerprint, when every member has one (LayersModels do): what caches and stores
   * of teacher outputs key by.
   */
  readonly fingerprint?: () => Promise<string>;

  /** Starts every member's fit (cached or stored members prepare here); members see no taps. */
  async begin(run: TeacherRun): Promise<void> {
    for (const t of [this.generalist, ...this.members.map((s) => s.teacher)]) await t.begin?.({ ...run, taps: [] });
  }

  /** Ends every member's fit. */
  async end(): Promise<void> {
    for (const t of [this.generalist, ...this.members.map((s) => s.teacher)]) await t.end?.();
  }

  /** Rejects every tap: an ensemble has no layer to tap. */
  tap(names: readonly string[]): Readonly<Record<string, LayerShape>> {
    if (!Array.isArray(names)) throw new DistillationError('bad-option', 'SpecialistEnsemble.tap: names must be an array of layer names');
    if (names.length > 0) {
      throw new SpecialistsError(
        'teacher-not-tappable',
        `Plugins tap teacher layers [${names.join(', ')}], but the teacher is a SpecialistEnsemble; taps need a LayersModel teacher.`,
      );
    }
    return {};
  }

  /**
   * `{ logits: log q, features: {} }` for a batch (sync; outside gradient tapes). At a
   * temperature T the Distiller gives plugins the default `logSoftmax(log q / T)`: the combined
   * distribution softened at T (the combination itself is defined at T = 1, as in the paper). No
   * `logProbabilities` of its own, so the teacher-output cache can keep its outputs.
   *
   * `batch` names the rows of `x` (`ids`, in row order): the generalist gets it as given, each
   * specialist the ids of the rows it is active for, in row order (`{ ids: [] }` when `batch.ids`
   * does not name every row). Members that are models ignore it.
   */
  predict(x: tf.Tensor, batch?: TeacherBatch): TeacherPrediction {
    return { logits: this.combine(x, {}, batch).logits, features: {} };
  }

  /**
   * The combined `log q` and the number of active specialists per example; `options` override
   * the ensemble's, and `batch` is forwarded to the members as by {@link SpecialistEnsemble.predict}.
   */
  combine(x: tf.Tensor, options: CombineOptions = {}, batch?: TeacherBatch): CombineResult {
    parseOptions(combineSchema, options, 'SpecialistEnsemble.combine');
    const merged = parseOptions(combineSchema, { ...this.options, ...options }, 'SpecialistEnsemble.combine');
    return combineWith(this.generalist, this.members, x, merged, 'SpecialistEnsemble', batch);
  }

  /** How many specialists cover each class `[numClasses]` (the paper's Table 4 grouping). */
  coverage(numClasses: number): Int32Array {
    return coverageCounts(this.specialists, numClasses);
  }
}

/** The width of a LayersModel's 2-D logits (its first output), when static. */
function layersClasses(model: TeacherLike): number | undefined {
  if (!(model instanceof tfl.LayersModel)) return undefined;
  const shape = model.outputs[0]?.shape;
  const classes = shape?.length === 2 ? shape[1] : undefined;
  return typeof classes === 'number' && Number.isInteger(classes) && classes > 0 ? classes : undefined;
}

/** How many of `specialists` cover each class. */
export function coverageCounts(specialists: readonly { readonly classes: readonly number[] }[], numClasses: number): Int32Array {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new DistillationError('bad-option', `coverageCounts: numClasses must be an integer >= 1, got ${numClasses}`);
  }
  if (!Array.isArray(specialists)) throw new DistillationError('bad-option', 'coverageCounts: specialists must be an array of { classes }');
  specialists.forEach((s, m) => {
    if (!Array.isArray(s?.classes)) throw new SpecialistsError('bad-subset', `coverageCounts: specialist ${m} has no classes array`);
  });
  const out = new Int32Array(numClasses);
  for (const s of specialists) for (const k of s.classes) if (k >= 0 && k < numClasses) out[k]!++;
  return out;
}
