import { distance } from 'fastest-levenshtein';
import { BackendWasmError } from './errors';

/** The closest of `candidates` to `word` when it is a plausible typo of it (as `@kd/core`'s `suggest`). */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}

/** `; did you mean "x"?` or nothing. */
export function didYouMean(word: string, candidates: readonly string[], prefix = ''): string {
  const s = suggest(word, candidates);
  return s === undefined ? '' : `; did you mean "${prefix}${s}"?`;
}

/** A value for a message, as `@kd/core`'s parseOptions shows it. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value !== null && typeof value === 'object') return 'an object';
  return String(value);
}

/** Makes the error a kd backend package throws for an option (its own error class, a core code). */
export type OptionErrorFactory = (code: 'bad-option' | 'unknown-option', message: string) => Error;

/**
 * The option checks of a kd backend package, throwing its own errors: `checkKeys` (undefined or a
 * plain object whose keys are all known; `unknown-option` with a suggestion) and `badOption`, in
 * `@kd/core`'s wording. Shared by `@kd/backend-wasm` and `@kd/backend-native`.
 */
export function optionChecks(fail: OptionErrorFactory): {
  checkKeys(options: unknown, known: readonly string[], where: string, path?: string): Record<string, unknown>;
  badOption(where: string, key: string, must: string, value: unknown): never;
} {
  return {
    checkKeys(options, known, where, path = '') {
      if (options === undefined) return {};
      if (options === null || typeof options !== 'object' || Array.isArray(options)) {
        throw fail('bad-option', `${where}: ${path ? `option "${path}"` : 'options'} must be an object, got ${describeValue(options)}`);
      }
      const prefix = path ? `${path}.` : '';
      for (const key of Object.keys(options)) {
        if (!known.includes(key)) {
          throw fail(
            'unknown-option',
            `${where}: unknown option "${prefix}${key}"${didYouMean(key, known, prefix)} (known: ${known.join(', ')})`,
          );
        }
      }
      return options as Record<string, unknown>;
    },
    badOption(where, key, must, value) {
      throw fail('bad-option', `${where}: option "${key}" ${must}, got ${describeValue(value)}`);
    },
  };
}

/** This package's option checks (see {@link optionChecks}). */
export const { checkKeys, badOption } = optionChecks((code, message) => new BackendWasmError(code, message));
