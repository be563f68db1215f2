import { z } from 'zod';
import { DistillationError } from './errors';
import { optionsSchema, parseOptions } from './options';

/** Where training is when the learning rate is asked for. */
export interface ScheduleProgress {
  /** Global step, zero-based. */
  readonly step: number;
  /** Zero-based epoch. */
  readonly epoch: number;
  readonly stepsPerEpoch: number;
  /** Total steps of the run (epochs * stepsPerEpoch). */
  readonly totalSteps: number;
}

/** A learning-rate schedule: the rate to use for the step described by `progress`. */
export type LearningRateSchedule = (progress: ScheduleProgress) => number;

function positive(name: string, value: number): void {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new DistillationError('bad-option', `${name} must be a finite number > 0, got ${value}`);
  }
}

/** A constant rate. */
export function constantRate(rate: number): LearningRateSchedule {
  positive('constantRate: rate', rate);
  return () => rate;
}

/** Options of {@link stepDecay}. */
export interface StepDecayOptions {
  readonly initial: number;
  /** Epochs after which the rate is multiplied by `factor` (ascending). */
  readonly boundaries: readonly number[];
  /** Multiplier at each boundary. Default 0.1. */
  readonly factor?: number;
}

const rate = z.number().finite().positive();
/** Schema of {@link StepDecayOptions}. */
export const stepDecaySchema = optionsSchema<StepDecayOptions>()({
  initial: rate,
  boundaries: z.array(z.number().int().nonnegative()).readonly(),
  factor: rate.default(0.1),
});
/** Schema of {@link CosineDecayOptions}. */
export const cosineDecaySchema = optionsSchema<CosineDecayOptions>()({
  initial: rate,
  final: z.number().finite().nonnegative().default(0),
});

/** Piecewise-constant decay by epoch: `initial * factor^(number of boundaries <= epoch)`. */
export function stepDecay(rawOptions: StepDecayOptions): LearningRateSchedule {
  const { initial, boundaries, factor } = parseOptions(stepDecaySchema, rawOptions, 'stepDecay');
  boundaries.forEach((b, i) => {
    if (i > 0 && b <= boundaries[i - 1]!) {
      throw new DistillationError('bad-option', `stepDecay: option "boundaries" must be ascending, got [${boundaries}]`);
    }
  });
  return ({ epoch }) => initial * factor ** boundaries.filter((b) => epoch >= b).length;
}

/** Options of {@link cosineDecay}. */
export interface CosineDecayOptions {
  readonly initial: number;
  /** Rate at the last step. Default 0. */
  readonly final?: number;
}

/** Cosine decay over the whole run, per step: `final + (initial - final) * (1 + cos(pi * t)) / 2`. */
export function cosineDecay(rawOptions: CosineDecayOptions): LearningRateSchedule {
  const { initial, final } = parseOptions(cosineDecaySchema, rawOptions, 'cosineDecay');
  return ({ step, totalSteps }) => {
    const t = totalSteps <= 1 ? 0 : Math.min(1, step / (totalSteps - 1));
    return final + ((initial - final) * (1 + Math.cos(Math.PI * t))) / 2;
  };
}

/** Linear warm-up over the first `steps` steps (rate `(step+1)/steps` of the schedule's), then the schedule. */
export function linearWarmup(schedule: LearningRateSchedule, steps: number): LearningRateSchedule {
  if (typeof schedule !== 'function') {
    throw new DistillationError(
      'bad-option',
      `linearWarmup: schedule must be a schedule function (e.g. cosineDecay({ initial })), got ${typeof schedule}`,
    );
  }
  if (!Number.isInteger(steps) || steps < 0) {
    throw new DistillationError('bad-option', `linearWarmup: steps must be an integer >= 0, got ${steps}`);
  }
  return (progress) => {
    const rate = schedule(progress);
    return progress.step < steps ? (rate * (progress.step + 1)) / steps : rate;
  };
}
