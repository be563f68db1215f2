import { logitMatchingLoss } from '../losses/logitMatchingLoss';
import { definePlugin, type DistillationPlugin } from '../plugin';

/** Options of {@link logitMatching}. */
export interface LogitMatchingOptions {
  /** Weight of the term. Default 1. */
  readonly weight?: number;
}

/** Logit matching (MSE between student and teacher logits), term `logits`. */
export function logitMatching(options: LogitMatchingOptions = {}): DistillationPlugin<void> {
  return definePlugin<void>({
    name: 'logits',
    weight: options.weight ?? 1,
    needsTeacher: true,
    loss({ student, teacher }) {
      return logitMatchingLoss(student.logits, teacher!.logits);
    },
  });
}
