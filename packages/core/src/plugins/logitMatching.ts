import { logitMatchingLoss } from '../losses/logitMatchingLoss';
import { optionsSchema, parseOptions } from '../options';
import { type DistillationPlugin, definePlugin } from '../plugin';
import { scheduledWeightSchema, type WeightSchedule } from '../weightSchedules';

/** Options of {@link logitMatching}. */
export interface LogitMatchingOptions {
  /** Weight of the term. Default 1. */
  readonly weight?: number | WeightSchedule;
}

/** Schema of {@link LogitMatchingOptions}. */
export const logitMatchingSchema = optionsSchema<LogitMatchingOptions>()({ weight: scheduledWeightSchema.default(1) });

/** Logit matching (MSE between student and teacher logits), term `logits`. */
export function logitMatching(options: LogitMatchingOptions = {}): DistillationPlugin<void> {
  const { weight } = parseOptions(logitMatchingSchema, options, 'logitMatching');
  return definePlugin<void>({
    name: 'logits',
    weight,
    needsTeacher: true,
    loss({ student, teacher }) {
      return logitMatchingLoss(student.logits, teacher!.logits);
    },
  });
}
