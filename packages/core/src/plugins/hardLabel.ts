import { hardLabelLoss } from '../losses/hardLabelLoss';
import { optionsSchema, parseOptions } from '../options';
import { type DistillationPlugin, definePlugin } from '../plugin';
import { scheduledWeightSchema, type WeightSchedule } from '../weightSchedules';

/** Options of {@link hardLabel}. */
export interface HardLabelOptions {
  /** Weight of the term. Default 1. */
  readonly weight?: number | WeightSchedule;
}

/** Schema of {@link HardLabelOptions}. */
export const hardLabelSchema = optionsSchema<HardLabelOptions>()({ weight: scheduledWeightSchema.default(1) });

/**
 * Cross-entropy with the true labels at T = 1 (term `ce`). Uses the batch's soft `targets` when a
 * transform (MixUp) set them.
 */
export function hardLabel(options: HardLabelOptions = {}): DistillationPlugin<void> {
  const { weight } = parseOptions(hardLabelSchema, options, 'hardLabel');
  return definePlugin<void>({
    name: 'ce',
    weight,
    labels: 'targets',
    loss({ student, batch }) {
      return hardLabelLoss(student.logits, batch.targets ?? batch.yMixed ?? batch.y);
    },
  });
}
