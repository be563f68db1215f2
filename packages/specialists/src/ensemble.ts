import {
  DistillationError,
  type LayerShape,
  parseOptions,
  type Teacher,
  type TeacherLike,
  type TeacherPrediction,
  toTeacher,
} from '@kd/core';
import type * as tf from '@tensorflow/tfjs-core';
import { type CombineOptions, type CombineResult, checkGeneralist, checkSpecialists, combineSchema, combineWith } from './combine';
import { SpecialistsError } from './errors';
import { checkSubset, type Specialist } from './specialist';

/**
 * A generalist plus specialists, combined per example by {@link combineDistributions}
 * (paper sect. 5.3). It implements `@kd/core`'s `Teacher`: `predict(x).logits` is `log q`, so a
 * `Distiller` with `softTargets` distils the whole ensemble back into one student (the step the
 * paper left undone). Teacher taps are not supported (there is no single layer to tap).
 *
 * The ensemble does not own the models: dispose them yourself. The options and the specialists
 * (`{ model, classes }`) are checked on construction (`unknown-option`, `bad-option`).
 */
export class SpecialistEnsemble implements Teacher {
  readonly kind = 'kd-teacher' as const;
  readonly description: string;
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
    specialists.forEach((s, m) => checkSubset(s.classes, Number.POSITIVE_INFINITY, `SpecialistEnsemble: specialist ${m} classes`));
    this.generalist = toTeacher(generalist);
    this.members = specialists.map((s) => ({ teacher: toTeacher(s.model), classes: [...s.classes] }));
    const how = solver === 'em' ? `${steps} EM steps` : `${steps} gradient steps, lr ${lr}`;
    this.description =
      `generalist + ${specialists.length} specialists (KL-combined, top-${topN}, ${how}): ` +
      `${this.generalist.description}; specialists on [${specialists.map((s) => `{${s.classes.join(',')}}`).join(' ')}]`;
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
   */
  predict(x: tf.Tensor): TeacherPrediction {
    return { logits: this.combine(x).logits, features: {} };
  }

  /** The combined `log q` and the number of active specialists per example; `options` override the ensemble's. */
  combine(x: tf.Tensor, options: CombineOptions = {}): CombineResult {
    parseOptions(combineSchema, options, 'SpecialistEnsemble.combine');
    const merged = parseOptions(combineSchema, { ...this.options, ...options }, 'SpecialistEnsemble.combine');
    return combineWith(this.generalist, this.members, x, merged, 'SpecialistEnsemble');
  }

  /** How many specialists cover each class `[numClasses]` (the paper's Table 4 grouping). */
  coverage(numClasses: number): Int32Array {
    return coverageCounts(this.specialists, numClasses);
  }
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
