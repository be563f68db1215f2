import { z } from 'zod';
import { DistillationError } from './errors';
import { optionsSchema, parseOptions, weightSchema } from './options';

/**
 * A plugin's weight that changes with the epoch, as plain JSON (so a config file can carry it
 * and a checkpoint or `metadata()` can record it). Build one with {@link linearWarmupWeight},
 * {@link stepWeight} or {@link cosineWeight}; a plain number is a constant weight.
 *
 * The weight is a function of the zero-based epoch only: every step of an epoch uses the same
 * weight, and a resumed run recomputes it (no state to checkpoint).
 */
export type WeightSchedule = LinearWarmupWeight | StepWeight | CosineWeight;

/** `value * min((epoch + 1) / epochs, 1)`: DKD's warm-up (mdistiller's 1-based `min(epoch / warmup, 1)`). */
export interface LinearWarmupWeight {
  readonly kind: 'linear-warmup';
  /** The weight reached at the end of the warm-up. */
  readonly value: number;
  /** Epochs of the warm-up (>= 1). */
  readonly epochs: number;
}

/** `value * factor^(number of boundaries <= epoch)`. */
export interface StepWeight {
  readonly kind: 'step';
  readonly value: number;
  /** Epochs (zero-based, strictly ascending) at which the weight is multiplied by `factor`. */
  readonly boundaries: readonly number[];
  readonly factor: number;
}

/** `final + (value - final) * (1 + cos(pi * min(epoch / epochs, 1))) / 2`: cosine annealing from `value` to `final`. */
export interface CosineWeight {
  readonly kind: 'cosine';
  readonly value: number;
  readonly final: number;
  /** Epochs over which the weight anneals (>= 1); later epochs keep `final`. */
  readonly epochs: number;
}

const weightValue = z.number().finite().nonnegative();
const epochCount = z.number().int().positive();

/** Schema of {@link linearWarmupWeight}'s options. */
export const linearWarmupWeightSchema = optionsSchema<Omit<LinearWarmupWeight, 'kind'>>()({
  value: weightValue,
  epochs: epochCount,
});
/** Schema of {@link stepWeight}'s options. */
export const stepWeightSchema = optionsSchema<Omit<StepWeight, 'kind' | 'factor'> & { readonly factor?: number }>()({
  value: weightValue,
  boundaries: z
    .array(z.number().int().nonnegative())
    .readonly()
    .refine((b) => b.every((x, i) => i === 0 || x > b[i - 1]!), { message: 'must be strictly ascending' }),
  factor: weightValue.default(0.1),
});
/** Schema of {@link cosineWeight}'s options. */
export const cosineWeightSchema = optionsSchema<Omit<CosineWeight, 'kind' | 'final'> & { readonly final?: number }>()({
  value: weightValue,
  final: weightValue.default(0),
  epochs: epochCount,
});

/**
 * Schema of a plugin's `weight` option: a number >= 0 or a {@link WeightSchedule} as plain JSON
 * (`{ kind: 'linear-warmup', value, epochs }`, ...). Plugins use it in place of `weightSchema`
 * for the weight of their terms, so config files can carry schedules.
 */
export const scheduledWeightSchema = z.union([
  weightSchema,
  z.discriminatedUnion(
    'kind',
    // The builders' own schemas, tagged with their kind: one set of rules for both paths.
    [
      z.strictObject({ kind: z.literal('linear-warmup'), ...linearWarmupWeightSchema.shape }),
      z.strictObject({ kind: z.literal('step'), ...stepWeightSchema.shape }),
      z.strictObject({ kind: z.literal('cosine'), ...cosineWeightSchema.shape }),
    ],
    { message: 'must be a weight schedule (linearWarmupWeight, stepWeight or cosineWeight)' },
  ),
]) as z.ZodType<number | WeightSchedule>;

/** A linear warm-up to `value` over `epochs` epochs (see {@link LinearWarmupWeight}). */
export function linearWarmupWeight(options: Omit<LinearWarmupWeight, 'kind'>): LinearWarmupWeight {
  return { kind: 'linear-warmup', ...parseOptions(linearWarmupWeightSchema, options, 'linearWarmupWeight') };
}

/** A piecewise-constant weight (see {@link StepWeight}); `factor` defaults to 0.1. */
export function stepWeight(options: Omit<StepWeight, 'kind' | 'factor'> & { readonly factor?: number }): StepWeight {
  const parsed = parseOptions(stepWeightSchema, options, 'stepWeight');
  return { kind: 'step', value: parsed.value, boundaries: [...parsed.boundaries], factor: parsed.factor };
}

/** Cosine annealing from `value` to `final` (default 0) over `epochs` (see {@link CosineWeight}). */
export function cosineWeight(options: Omit<CosineWeight, 'kind' | 'final'> & { readonly final?: number }): CosineWeight {
  return { kind: 'cosine', ...parseOptions(cosineWeightSchema, options, 'cosineWeight') };
}

/**
 * Checks a plugin's `weight` (a number >= 0 or a {@link WeightSchedule}, e.g. read from a config
 * file) and returns it; anything else is `bad-plugin`, naming the plugin and what is wrong.
 */
export function checkWeight(weight: unknown, owner: string): number | WeightSchedule {
  const refuse = (why: string): never => {
    throw new DistillationError('bad-plugin', `Plugin "${owner}": weight ${why}`);
  };
  if (typeof weight === 'number') {
    if (!(Number.isFinite(weight) && weight >= 0)) refuse(`must be a finite number >= 0, got ${weight}`);
    return weight;
  }
  if (typeof weight !== 'object' || weight === null) {
    return refuse(
      `must be a finite number >= 0 or a weight schedule (linearWarmupWeight, stepWeight, cosineWeight), got ${typeof weight === 'string' ? `'${weight}'` : String(weight)}`,
    );
  }
  const { kind, ...options } = weight as { kind?: unknown };
  try {
    if (kind === 'linear-warmup') return linearWarmupWeight(options as Omit<LinearWarmupWeight, 'kind'>);
    if (kind === 'step') return stepWeight(options as Omit<StepWeight, 'kind'>);
    if (kind === 'cosine') return cosineWeight(options as Omit<CosineWeight, 'kind'>);
  } catch (error) {
    return refuse(`is not a valid "${String(kind)}" schedule: ${(error as Error).message}`);
  }
  return refuse(`has unknown schedule kind ${JSON.stringify(kind)} (known: "linear-warmup", "step", "cosine")`);
}

/** The weight at zero-based `epoch`. */
export function weightAt(weight: number | WeightSchedule, epoch: number): number {
  if (typeof weight === 'number') return weight;
  switch (weight.kind) {
    case 'linear-warmup':
      return weight.value * Math.min((epoch + 1) / weight.epochs, 1);
    case 'step':
      return weight.value * weight.factor ** weight.boundaries.filter((b) => b <= epoch).length;
    case 'cosine':
      return weight.final + ((weight.value - weight.final) * (1 + Math.cos(Math.PI * Math.min(epoch / weight.epochs, 1)))) / 2;
  }
}

/**
 * How `describe()` prints a weighted term: `0.9*kd(T=4)` for a number; for a schedule, its final
 * value with the schedule inside the label's parentheses, e.g. `1*dkd(T=4, warm-up 20 epochs)`.
 */
export function describeWeighted(weight: number | WeightSchedule, label: string): string {
  if (typeof weight === 'number') return `${weight}*${label}`;
  const text =
    weight.kind === 'linear-warmup'
      ? `warm-up ${weight.epochs} epoch${weight.epochs === 1 ? '' : 's'}`
      : weight.kind === 'step'
        ? `x${weight.factor} at epochs ${weight.boundaries.join(', ') || 'none'}`
        : `cosine to ${weight.final} over ${weight.epochs} epochs`;
  const withSchedule = label.endsWith(')') ? `${label.slice(0, -1)}, ${text})` : `${label}(${text})`;
  return `${weight.value}*${withSchedule}`;
}
