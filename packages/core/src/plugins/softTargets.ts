import { z } from 'zod';
import { type SoftTargetForm, softTargetLoss } from '../losses/softTargetLoss';
import { optionsSchema, parseOptions } from '../options';
import { type DistillationPlugin, definePlugin } from '../plugin';
import { scheduledWeightSchema, type WeightSchedule } from '../weightSchedules';

/** Options of {@link softTargets}. */
export interface SoftTargetsOptions {
  /** Softmax temperature T (> 0). Default 4 (RepDistiller's KD setting). */
  readonly temperature?: number;
  /** Weight of the term (RepDistiller KD alone: 0.9). Default 1. */
  readonly weight?: number | WeightSchedule;
  /** `'kl'` (reference) or `'cross-entropy'`; same gradient. Default `'kl'`. */
  readonly form?: SoftTargetForm;
}

/** Schema of {@link SoftTargetsOptions} (defaults applied). */
export const softTargetsSchema = optionsSchema<SoftTargetsOptions>()({
  temperature: z.number().finite().positive().default(4),
  weight: scheduledWeightSchema.default(1),
  form: z.enum(['kl', 'cross-entropy']).default('kl'),
});

/**
 * Hinton et al. 2015 soft targets: `weight * T^2 * KL(p_T || q_T)` between the teacher's and the
 * student's softened distributions. Ensembles (`ensembleTeacher`) are combined at T. Term `kd`.
 */
export function softTargets(options: SoftTargetsOptions = {}): DistillationPlugin<void> {
  const { temperature, form, weight } = parseOptions(softTargetsSchema, options, 'softTargets');
  return definePlugin<void>({
    name: 'kd',
    label: `kd(T=${temperature})`,
    weight,
    needsTeacher: true,
    loss({ student, teacher }) {
      return softTargetLoss(student.logits, teacher!.logProbabilities(temperature), temperature, form);
    },
  });
}
