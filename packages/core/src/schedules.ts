import { DistillationError } from './errors';

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

/** Piecewise-constant decay by epoch: `initial * factor^(number of boundaries <= epoch)`. */
export function stepDecay(options: StepDecayOptions): LearningRateSchedule {
  positive('stepDecay: initial', options.initial);
  const factor = options.factor ?? 0.1;
  positive('stepDecay: factor', factor);
  options.boundaries.forEach((b, i) => {
    if (!Number.isInteger(b) || b < 0 || (i > 0 && b <= options.boundaries[i - 1]!)) {
      throw new DistillationError('bad-option', `stepDecay: boundaries must be ascending integers >= 0, got [${options.boundaries}]`);
    }
  });
  return ({ epoch }) => options.initial * factor ** options.boundaries.filter((b) => epoch >= b).length;
}

/** Options of {@link cosineDecay}. */
export interface CosineDecayOptions {
  readonly initial: number;
  /** Rate at the last step. Default 0. */
  readonly final?: number;
}

/** Cosine decay over the whole run, per step: `final + (initial - final) * (1 + cos(pi * t)) / 2`. */
export function cosineDecay(options: CosineDecayOptions): LearningRateSchedule {
  positive('cosineDecay: initial', options.initial);
  const final = options.final ?? 0;
  return ({ step, totalSteps }) => {
    const t = totalSteps <= 1 ? 0 : Math.min(1, step / (totalSteps - 1));
    return final + ((options.initial - final) * (1 + Math.cos(Math.PI * t))) / 2;
  };
}

/** Linear warm-up over the first `steps` steps (rate `(step+1)/steps` of the schedule's), then the schedule. */
export function linearWarmup(schedule: LearningRateSchedule, steps: number): LearningRateSchedule {
  if (!Number.isInteger(steps) || steps < 0) {
    throw new DistillationError('bad-option', `linearWarmup: steps must be an integer >= 0, got ${steps}`);
  }
  return (progress) => {
    const rate = schedule(progress);
    return progress.step < steps ? (rate * (progress.step + 1)) / steps : rate;
  };
}
