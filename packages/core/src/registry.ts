import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { z } from 'zod';
import type { LabeledData } from './batch';
import { DistillationError } from './errors';
import { suggest } from './options';
import type { DistillationPlugin } from './plugin';
import type { LearningRateSchedule } from './schedules';
import type { MethodContext } from './sharedModules';
import type { DataSource } from './source';

/**
 * One named thing a config file can build: the schema of its options (a strict zod object, so
 * a misspelt key is an error with a suggestion), a one-line summary (a method's formula, a
 * model's architecture) printed by `kd describe`, and the function that builds it.
 */
export interface RegistryEntry<Options = unknown, Context = unknown, Result = unknown> {
  /** Schema of the options a config gives (defaults applied by it). */
  readonly schema: z.ZodType<Options, unknown>;
  /** One line: the formula of a method, the layers of a model, what a source reads. */
  readonly summary: string;
  /** Builds the thing from parsed options. */
  readonly create: (options: Options, context: Context) => Result;
}

/** What an optimizer or schedule entry is built with: nothing beyond its options. */
export type EmptyContext = Record<string, never>;

/** What a model builder is told about the run. */
export interface ModelContext {
  /** The example shape of the training inputs (without the batch axis), e.g. `[28, 28, 1]`. */
  readonly inputShape: readonly number[];
  /** Number of classes of the data. */
  readonly classes: number;
  /** The model's seed (weight initialisation), from the run's seed unless the config gives one. */
  readonly seed: number;
  /** The model's name (`student`, `teacher`, `teacher1`, ...): layer names start with it. */
  readonly name: string;
}

/** What a data-source entry is told: where relative paths in its options start. */
export interface SourceContext {
  /** The directory of the config file. */
  readonly baseDirectory: string;
}

/** The splits a data-source entry opens. `train` is required; the others when the source has them. */
export interface OpenedData {
  readonly train: LabeledData | DataSource;
  readonly validation?: LabeledData | DataSource;
  readonly test?: LabeledData | DataSource;
  /** Class names by label, when the source knows them. */
  readonly classNames?: readonly string[];
  /** Frees what the source holds (tensors, file handles). */
  readonly dispose?: () => void;
}

/**
 * The options type of a stored entry: each entry's own schema parses them, so a merged table of
 * entries with different options needs the one type every entry accepts.
 */
// biome-ignore lint/suspicious/noExplicitAny: entries of different option types share one table (parsed by their own schemas).
type AnyOptions = any;

/** A method: a plugin (or several) for `Distiller.use`, built with the run's shared modules. */
export type MethodEntry = RegistryEntry<
  AnyOptions,
  MethodContext,
  DistillationPlugin<AnyOptions> | readonly DistillationPlugin<AnyOptions>[]
>;
/** A model builder: an untrained LayersModel whose first output is logits. */
export type ModelEntry = RegistryEntry<AnyOptions, ModelContext, tfl.LayersModel>;
/** A data source: its splits. */
export type SourceEntry = RegistryEntry<AnyOptions, SourceContext, Promise<OpenedData>>;
/** An optimizer. */
export type OptimizerEntry = RegistryEntry<AnyOptions, EmptyContext, tf.Optimizer>;
/** A learning-rate schedule. */
export type ScheduleEntry = RegistryEntry<AnyOptions, EmptyContext, LearningRateSchedule>;

/**
 * What a package offers to config-file runs, by name. Each plugin package exports one as
 * `registry`; the `kd` command line imports the packages a config names and merges theirs, so
 * the command line itself knows no method, model or source.
 */
export interface Registry {
  readonly methods?: Readonly<Record<string, MethodEntry>>;
  readonly models?: Readonly<Record<string, ModelEntry>>;
  readonly sources?: Readonly<Record<string, SourceEntry>>;
  readonly optimizers?: Readonly<Record<string, OptimizerEntry>>;
  readonly schedules?: Readonly<Record<string, ScheduleEntry>>;
}

/** The kinds of entry a {@link Registry} holds. */
export type RegistryKind = keyof Registry;

/** The kinds, in the order `kd describe` lists them. */
export const REGISTRY_KINDS: readonly RegistryKind[] = ['methods', 'models', 'sources', 'optimizers', 'schedules'];

const NAME = /^[a-zA-Z][a-zA-Z0-9-]*$/;

/**
 * One entry, typed by its schema: `create` receives the schema's output.
 *
 * @example
 * ```ts
 * const kd = registryEntry({ schema: softTargetsSchema, summary: 'w * T^2 * KL(p_T || q_T)', create: (o) => softTargets(o) });
 * ```
 */
export function registryEntry<S extends z.ZodType, Context, Result>(entry: {
  readonly schema: S;
  readonly summary: string;
  readonly create: (options: z.output<S>, context: Context) => Result;
}): RegistryEntry<z.output<S>, Context, Result> {
  return entry as unknown as RegistryEntry<z.output<S>, Context, Result>;
}

/**
 * Checks a package's registry (names are identifiers with dashes, every entry has a schema, a
 * summary and `create`) and returns it unchanged. Throws `bad-registry` naming the entry.
 */
export function defineRegistry<R extends Registry>(registry: R): R {
  for (const kind of Object.keys(registry)) {
    if (!REGISTRY_KINDS.includes(kind as RegistryKind)) {
      throw new DistillationError('bad-registry', `defineRegistry: unknown kind "${kind}" (known: ${REGISTRY_KINDS.join(', ')})`);
    }
    for (const [name, entry] of Object.entries(registry[kind as RegistryKind] ?? {})) {
      const where = `defineRegistry: ${kind}.${name}`;
      if (!NAME.test(name)) throw new DistillationError('bad-registry', `${where}: a name is a letter then letters, digits or dashes`);
      const e = entry as Partial<RegistryEntry> | undefined;
      if (!e || typeof e.create !== 'function' || typeof e.summary !== 'string' || typeof e.schema?.safeParse !== 'function') {
        throw new DistillationError('bad-registry', `${where}: an entry is { schema (zod), summary (string), create (function) }`);
      }
    }
  }
  return registry;
}

/** Where each name of a merged registry came from (a package name), for messages and `kd describe`. */
export interface MergedRegistry {
  readonly registry: Required<Registry>;
  /** `origins[kind][name]`: the package that registered it. */
  readonly origins: Readonly<Record<RegistryKind, Readonly<Record<string, string>>>>;
}

/**
 * Merges the registries of several packages. Two packages registering one name of one kind is
 * a `registry-conflict` error naming both.
 */
export function mergeRegistries(parts: readonly { readonly from: string; readonly registry: Registry }[]): MergedRegistry {
  const registry = Object.fromEntries(REGISTRY_KINDS.map((k) => [k, {}])) as Record<
    RegistryKind,
    Record<string, RegistryEntry<AnyOptions, AnyOptions, unknown>>
  >;
  const origins = Object.fromEntries(REGISTRY_KINDS.map((k) => [k, {}])) as Record<RegistryKind, Record<string, string>>;
  for (const { from, registry: part } of parts) {
    defineRegistry(part);
    for (const kind of REGISTRY_KINDS) {
      for (const [name, entry] of Object.entries(part[kind] ?? {})) {
        const earlier = origins[kind][name];
        if (earlier !== undefined && earlier !== from) {
          throw new DistillationError('registry-conflict', `${kind} "${name}" is registered by both ${earlier} and ${from}`);
        }
        registry[kind][name] = entry;
        origins[kind][name] = from;
      }
    }
  }
  return { registry: registry as Required<Registry>, origins };
}

const SINGULAR: Record<RegistryKind, string> = {
  methods: 'method',
  models: 'model',
  sources: 'source',
  optimizers: 'optimizer',
  schedules: 'schedule',
};

/**
 * The entry `name` of `kind`, or an `unknown-name` error that starts with `where` (the key path
 * in the config, e.g. `methods[2].method`), suggests the closest name and lists the known ones.
 */
export function lookupEntry<K extends RegistryKind>(
  merged: MergedRegistry,
  kind: K,
  name: unknown,
  where: string,
): NonNullable<Registry[K]>[string] {
  const entries = merged.registry[kind] as Record<string, NonNullable<Registry[K]>[string]>;
  const known = Object.keys(entries).sort();
  if (typeof name !== 'string' || !Object.hasOwn(entries, name)) {
    const suggestion = typeof name === 'string' ? suggest(name, known) : undefined;
    const shown = typeof name === 'string' ? `"${name}"` : String(name);
    throw new DistillationError(
      'unknown-name',
      `${where}: unknown ${SINGULAR[kind]} ${shown}${suggestion ? `; did you mean "${suggestion}"?` : ''} (known: ${known.join(', ') || 'none'})`,
    );
  }
  return entries[name]!;
}
