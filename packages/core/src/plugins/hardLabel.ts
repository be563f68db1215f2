import { hardLabelLoss } from '../losses/hardLabelLoss';
import { definePlugin, type DistillationPlugin } from '../plugin';

/** Options of {@link hardLabel}. */
export interface HardLabelOptions {
  /** Weight of the term. Default 1. */
  readonly weight?: number;
}

/**
 * Cross-entropy with the true labels at T = 1 (term `ce`). Uses the batch's mixed labels when a
 * transform (MixUp) provided them.
 */
export function hardLabel(options: HardLabelOptions = {}): DistillationPlugin<void> {
  return definePlugin<void>({
    name: 'ce',
    weight: options.weight ?? 1,
    loss({ student, batch }) {
      return hardLabelLoss(student.logits, batch.yMixed ?? batch.y);
    },
  });
}
