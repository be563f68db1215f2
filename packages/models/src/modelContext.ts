import { type ModelContext, nameSchema, seedSchema } from '@kd/core';
import type { z } from 'zod';
import { classesSchema } from './schemas';

/**
 * The keys a model entry takes from the run's {@link ModelContext} when a config leaves them out:
 * optional and without defaults in the entry's schema, so `create` can tell "not set" from a
 * default. `inputShape` is the builder's own shape schema.
 */
export function contextKeys<Shape extends z.ZodType>(inputShape: Shape) {
  return {
    name: nameSchema.optional(),
    seed: seedSchema.optional(),
    inputShape: inputShape.optional(),
    classes: classesSchema.optional(),
  };
}

/** Options that may set the context's keys. */
interface ContextOptions {
  readonly name?: string | undefined;
  readonly seed?: number | undefined;
  readonly inputShape?: readonly number[] | undefined;
  readonly classes?: number | undefined;
}

/** `options` with the context's `name`, `seed`, `inputShape` and `classes` where they set none (the config wins). */
export function withContext<O extends ContextOptions>(
  options: O,
  context: ModelContext,
): Omit<O, keyof ContextOptions> & { name: string; seed: number; inputShape: readonly number[]; classes: number } {
  return {
    ...options,
    name: options.name ?? context.name,
    seed: options.seed ?? context.seed,
    inputShape: options.inputShape ?? context.inputShape,
    classes: options.classes ?? context.classes,
  };
}
