import { DistillationError } from '../errors';
import { type SoftTargetForm, softTargetLoss } from '../losses/softTargetLoss';
import { teacherLogProbabilities } from '../losses/teacherLogProbabilities';
import { definePlugin, type DistillationPlugin } from '../plugin';

/** Options of {@link softTargets}. */
export interface SoftTargetsOptions {
  /** Softmax temperature T (> 0). Default 4 (RepDistiller's KD setting). */
  readonly temperature?: number;
  /** Weight of the term (RepDistiller KD alone: 0.9). Default 1. */
  readonly weight?: number;
  /** `'kl'` (reference) or `'cross-entropy'`; same gradient. Default `'kl'`. */
  readonly form?: SoftTargetForm;
}

/**
 * Hinton et al. 2015 soft targets: `weight * T^2 * KL(p_T || q_T)` between the teacher's and the
 * student's softened distributions. Ensembles (`ensembleTeacher`) are combined at T. Term `kd`.
 */
export function softTargets(options: SoftTargetsOptions = {}): DistillationPlugin<void> {
  const temperature = options.temperature ?? 4;
  const form = options.form ?? 'kl';
  if (!(Number.isFinite(temperature) && temperature > 0)) {
    throw new DistillationError('bad-option', `softTargets: temperature must be > 0, got ${temperature}`);
  }
  if (form !== 'kl' && form !== 'cross-entropy') {
    throw new DistillationError('bad-option', `softTargets: form must be 'kl' or 'cross-entropy', got '${form}'`);
  }
  return definePlugin<void>({
    name: 'kd',
    label: `kd(T=${temperature})`,
    weight: options.weight ?? 1,
    needsTeacher: true,
    loss({ student, teacher }) {
      return softTargetLoss(student.logits, teacherLogProbabilities(teacher!, temperature), temperature, form);
    },
  });
}
