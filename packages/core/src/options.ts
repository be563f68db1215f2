import { closest, distance } from 'fastest-levenshtein';
import { z } from 'zod';
import { DistillationError } from './errors';

/**
 * An options schema: a strict zod object whose keys are exactly the keys of the options
 * interface `T` (a key missing from the schema, or one the interface lacks, fails to compile).
 * Every public function and plugin factory of kd parses its options through one, so unknown keys
 * and bad values fail the same way everywhere, and the config-file CLI reuses the same schemas.
 *
 * @example
 * ```ts
 * const schema = optionsSchema<SoftTargetsOptions>()({ temperature: z.number().positive().optional(), ... });
 * const options = parseOptions(schema, input, 'softTargets');
 * ```
 */
export function optionsSchema<T extends object>() {
  return <Shape extends { [K in keyof Required<T>]: z.ZodType<T[K]> }>(
    shape: Shape & Record<Exclude<keyof Shape, keyof T>, never>,
  ): z.ZodObject<Shape, z.core.$strict> => z.strictObject(shape);
}

/**
 * Parses `value` with `schema` and returns the result (defaults applied). Throws a
 * `DistillationError` before any work: `unknown-option` for a key the schema lacks, with a
 * "did you mean" suggestion, `bad-option` for a wrong type or a value out of range. The message
 * starts with `where` and names the key's path (`methods[2].weight`); `at` is the path of
 * `value` itself inside a larger document (a config file), prefixed to every key path.
 */
export function parseOptions<S extends z.ZodType>(schema: S, value: unknown, where: string, at: readonly PropertyKey[] = []): z.output<S> {
  const result = schema.safeParse(value === undefined ? {} : value);
  if (result.success) return result.data;
  // A misspelt key is also a missing one: report the unknown key (with its suggestion) first.
  const issue = result.error.issues.find((i) => i.code === 'unrecognized_keys') ?? result.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeys(schema, issue.path);
    const key = issue.keys[0]!;
    const path = formatPath([...at, ...issue.path, key]);
    const suggestion = suggest(key, known);
    throw new DistillationError(
      'unknown-option',
      `${where}: unknown option "${path}"${suggestion ? `; did you mean "${formatPath([...at, ...issue.path, suggestion])}"?` : ''} ` +
        `(known: ${known.join(', ') || 'none'})`,
    );
  }
  const path = formatPath([...at, ...issue.path]);
  const received = describeValue(valueAt(value, issue.path));
  throw new DistillationError('bad-option', `${where}: ${path ? `option "${path}"` : 'options'} ${describeIssue(issue)}, got ${received}`);
}

/** A zod issue as the end of "option "x" ..." (zod's own messages are for forms). */
function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'too_small':
      return `must be ${issue.origin === 'array' ? 'a list of ' : ''}${issue.inclusive ? '>=' : '>'} ${issue.minimum}${issue.origin === 'array' ? ' items' : ''}`;
    case 'too_big':
      return `must be ${issue.origin === 'array' ? 'a list of ' : ''}${issue.inclusive ? '<=' : '<'} ${issue.maximum}${issue.origin === 'array' ? ' items' : ''}`;
    case 'invalid_type':
      if (issue.expected === 'int') return 'must be an integer';
      if (issue.message.startsWith('must')) return issue.message;
      return `must be ${/^[aeiou]/.test(issue.expected) ? 'an' : 'a'} ${issue.expected === 'nonoptional' ? 'value' : issue.expected}`;
    case 'invalid_value':
      return `must be ${issue.values.map((v) => (typeof v === 'string' ? `'${v}'` : String(v))).join(' or ')}`;
    case 'invalid_union':
      // A discriminated union whose discriminator matched no branch has no branch errors.
      if (issue.errors.length === 0) return issue.message.startsWith('must') ? issue.message : `is invalid (${issue.message})`;
      return [...new Set(issue.errors.map((branch) => (branch[0] ? describeIssue(branch[0]) : 'valid')))]
        .join(', or ')
        .replace(/, or must be /g, ' or ');
    case 'not_multiple_of':
      return `must be a multiple of ${issue.divisor}`;
    default:
      return issue.message.startsWith('must') ? issue.message : `is invalid (${issue.message})`;
  }
}

/**
 * Throws like {@link parseOptions} when `value` has a key `schema` does not know, and does
 * nothing else: for functions that check some required keys themselves first (with codes of
 * their own) but must still report a misspelt one as a typo.
 */
export function rejectUnknownKeys(schema: z.ZodType, value: unknown, where: string): void {
  const result = schema.safeParse(value);
  if (!result.success && result.error.issues.some((i) => i.code === 'unrecognized_keys')) parseOptions(schema, value, where);
}

/** The closest of `candidates` to `word` when it is a plausible typo of it. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  if (candidates.length === 0) return undefined;
  const best = closest(word, [...candidates]);
  const d = distance(word.toLowerCase(), best.toLowerCase());
  return d <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}

/** `a.b[2].c` from a zod path. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out ? `.${String(part)}` : String(part);
  return out;
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let at = value;
  for (const part of path) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<PropertyKey, unknown>)[part];
  }
  return at;
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value !== null && typeof value === 'object')
    return value.constructor?.name && value.constructor.name !== 'Object' ? `a ${value.constructor.name}` : 'an object';
  return String(value);
}

type Def = {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
};

/** Keys of the object schema at `path` inside `schema` (through optional, default, arrays, unions). */
function knownKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  const objects = (s: z.ZodType | undefined, rest: readonly PropertyKey[]): Def[] => {
    if (!s) return [];
    const def = (s as unknown as { _zod: { def: Def } })._zod.def;
    if (def.innerType) return objects(def.innerType, rest);
    if (def.type === 'pipe') return objects(def.in, rest);
    if (def.type === 'union') return (def.options ?? []).flatMap((o) => objects(o, rest));
    if (rest.length === 0) return def.type === 'object' ? [def] : [];
    const [head, ...tail] = rest;
    if (def.type === 'array') return objects(def.element, tail);
    if (def.type === 'object') return objects(def.shape?.[String(head)], tail);
    return [];
  };
  return [...new Set(objects(schema, path).flatMap((d) => Object.keys(d.shape ?? {})))];
}

/** A schema accepting any function (callbacks, schedules, filters). */
export function functionSchema<F extends (...args: never[]) => unknown>(what = 'a function'): z.ZodType<F> {
  return z.custom<F>((v) => typeof v === 'function', { message: `must be ${what}` });
}

/** A loss weight: a finite number >= 0. */
export const weightSchema = z.number({ message: 'must be a finite number >= 0' }).finite().nonnegative({ message: 'must be >= 0' });
