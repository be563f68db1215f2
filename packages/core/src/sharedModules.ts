import type { Checkpoint } from './checkpoint';
import { DistillationError } from './errors';

/**
 * How to make one module that several method entries of a config-file run share: FT's
 * paraphraser, built and trained by the `paraphraserTraining` entry of one stage and used,
 * frozen, by the `factorTransfer` entry of the next. The first entry to ask for a key creates it;
 * later ones get the same object.
 */
export interface SharedModuleSpec<T> {
  /**
   * What makes the module what it is (JSON values: the options `create` uses). Every request for
   * one key must give equal options (compared as JSON with sorted keys), else
   * `shared-module-conflict`: two entries silently sharing a module one of them did not ask for
   * would train something the config does not say.
   */
  readonly options: unknown;
  /** Makes the module (called once per key and run). */
  readonly create: () => T;
  /**
   * Loads the module's trained state from the run's last checkpoint when a run resumes, before
   * any stage starts (a stage that finished before the kill is not run again, so the module
   * would otherwise stay untrained). `checkpoint` is undefined when the run has none yet.
   */
  readonly restore?: (module: T, checkpoint: Checkpoint | undefined) => void;
  /** Frees the module when the run ends. */
  readonly dispose?: (module: T) => void;
}

/** What a method entry's `create` is given: the run's {@link SharedModules}. */
export interface MethodContext {
  /**
   * The run's module under `key` (a package-scoped name, e.g. `@kd/fitnet/paraphraser/p1`),
   * made by `spec.create` on first request. Throws `shared-module-conflict` when an earlier
   * request for the key gave other options.
   */
  shared<T>(key: string, spec: SharedModuleSpec<T>): T;
}

interface Held {
  readonly json: string;
  readonly module: unknown;
  readonly spec: SharedModuleSpec<unknown>;
}

/** JSON with object keys sorted, so `{a, b}` and `{b, a}` compare equal. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/**
 * The modules method entries of one run share (see {@link SharedModuleSpec}). The runner (the
 * `kd` command line) makes one per run, passes it to every method entry's `create`, calls
 * {@link restore} with the loaded checkpoint before resuming, and {@link dispose} at the end.
 * The core knows no module: each is whatever a plugin package's entry makes.
 *
 * @example
 * ```ts
 * const modules = new SharedModules();
 * const a = modules.shared('demo/counter', { options: { start: 1 }, create: () => ({ count: 1 }) });
 * const b = modules.shared('demo/counter', { options: { start: 1 }, create: () => ({ count: 1 }) });
 * // a === b
 * modules.dispose();
 * ```
 */
export class SharedModules implements MethodContext {
  private readonly held = new Map<string, Held>();
  private disposed = false;

  shared<T>(key: string, spec: SharedModuleSpec<T>): T {
    if (this.disposed) {
      throw new DistillationError('shared-module-conflict', `Shared module "${key}" asked for after the run's modules were disposed`);
    }
    const json = canonical(spec.options);
    const existing = this.held.get(key);
    if (existing) {
      if (existing.json !== json) {
        throw new DistillationError(
          'shared-module-conflict',
          `Shared module "${key}" was first asked for with options ${existing.json}, now with ${json}: give every method that shares it the same options (or give one of them another name)`,
        );
      }
      return existing.module as T;
    }
    const module = spec.create();
    this.held.set(key, { json, module, spec: spec as SharedModuleSpec<unknown> });
    return module;
  }

  /** The keys asked for so far, in order. */
  get keys(): string[] {
    return [...this.held.keys()];
  }

  /** Restores every module that has a `restore` from a resumed run's checkpoint, in the order they were asked for. */
  restore(checkpoint: Checkpoint | undefined): void {
    for (const { module, spec } of this.held.values()) spec.restore?.(module, checkpoint);
  }

  /** Frees every module (each `dispose` runs even when an earlier one throws; the first error is rethrown). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    let first: unknown;
    for (const { module, spec } of this.held.values()) {
      try {
        spec.dispose?.(module);
      } catch (error) {
        first ??= error;
      }
    }
    this.held.clear();
    if (first !== undefined) throw first;
  }
}
