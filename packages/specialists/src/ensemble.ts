import type * as tf from '@tensorflow/tfjs-core';
import {
  DistillationError,
  type LayerShape,
  type Teacher,
  type TeacherLike,
  type TeacherOutputs,
  toTeacher,
} from '@kd/core';
import { type CombineOptions, type CombineResult, combineWith } from './combine';
import type { Specialist } from './specialist';

/**
 * A generalist plus specialists, combined per example by {@link combineDistributions}
 * (paper sect. 5.3). It implements `@kd/core`'s `Teacher`: `predict(x).logits` is `log q`, so a
 * `Distiller` with `softTargets` distils the whole ensemble back into one student (the step the
 * paper left undone). Teacher taps are not supported (there is no single layer to tap).
 *
 * The ensemble does not own the models: dispose them yourself.
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
    this.generalist = toTeacher(generalist);
    this.members = specialists.map((s) => ({ teacher: toTeacher(s.model), classes: [...s.classes] }));
    const { topN = 1, steps = 100, lr = 2, solver = 'gradient' } = options;
    const how = solver === 'em' ? `${steps} EM steps` : `${steps} gradient steps, lr ${lr}`;
    this.description =
      `generalist + ${specialists.length} specialists (KL-combined, top-${topN}, ${how}): ` +
      `${this.generalist.description}; specialists on [${specialists.map((s) => `{${s.classes.join(',')}}`).join(' ')}]`;
  }

  /** Rejects every tap: an ensemble has no layer to tap. */
  tap(names: readonly string[]): Readonly<Record<string, LayerShape>> {
    if (names.length > 0) {
      throw new DistillationError(
        'teacher-not-tappable',
        `Plugins tap teacher layers [${names.join(', ')}], but the teacher is a SpecialistEnsemble; taps need a LayersModel teacher.`,
      );
    }
    return {};
  }

  /** `{ logits: log q, features: {} }` for a batch (sync; outside gradient tapes). */
  predict(x: tf.Tensor): TeacherOutputs {
    return { logits: this.combine(x).logits, features: {} };
  }

  /** The combined `log q` and the number of active specialists per example. */
  combine(x: tf.Tensor, options: CombineOptions = {}): CombineResult {
    return combineWith(this.generalist, this.members, x, { ...this.options, ...options });
  }

  /** How many specialists cover each class `[numClasses]` (the paper's Table 4 grouping). */
  coverage(numClasses: number): Int32Array {
    return coverageCounts(this.specialists, numClasses);
  }
}

/** How many of `specialists` cover each class. */
export function coverageCounts(specialists: readonly { readonly classes: readonly number[] }[], numClasses: number): Int32Array {
  const out = new Int32Array(numClasses);
  for (const s of specialists) for (const k of s.classes) if (k >= 0 && k < numClasses) out[k]!++;
  return out;
}
