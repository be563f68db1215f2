import { z } from 'zod';

/** An object schema's shape with every defaulted key optional instead, its default removed. */
export type WithoutDefaults<Shape extends z.ZodRawShape> = {
  [K in keyof Shape]: Shape[K] extends z.ZodDefault<infer Inner> ? z.ZodOptional<Inner> : Shape[K];
};

/**
 * `shape` with each `.default(...)` key made optional, same rules, no default (not exported from
 * the package): options parsed with it hold exactly the keys the input gave. The registry's CRD
 * entries use it because `crd` / `crdEnsemble` tell a given option from a defaulted one (queue
 * memory refuses the banks' options when they are given), so `create` must pass on what the
 * config said, and the factory applies its defaults itself.
 */
export function withoutDefaults<Shape extends z.ZodRawShape>(shape: Shape): WithoutDefaults<Shape> {
  return Object.fromEntries(
    Object.entries(shape).map(([key, schema]) => [
      key,
      schema instanceof z.ZodDefault ? (schema.unwrap() as z.ZodType).optional() : schema,
    ]),
  ) as WithoutDefaults<Shape>;
}
