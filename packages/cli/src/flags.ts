import { BACKEND_ORDER } from '@kd/backend-gpu';
import { type CommanderError, InvalidArgumentError, Option } from 'commander';

/**
 * Command-line flags shared by `kd` and the examples (commander 14 options and value parsers),
 * so every program spells and checks `--backend`, counts and lists the same way.
 *
 * @example
 * ```ts
 * const program = new Command('my-example')
 *   .addOption(backendOption())
 *   .option('--epochs <n>', 'epochs', integerFlag('--epochs', { min: 1 }), 10)
 *   .parse(scriptArguments());
 * ```
 */

/** A parser of an integer flag in `[min, max]`; a bad value is commander's usage error naming the flag. */
export function integerFlag(flag: string, range: { readonly min?: number; readonly max?: number } = {}): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (text.trim() === '' || !Number.isInteger(value)) throw new InvalidArgumentError(`${flag} must be an integer, got "${text}"`);
    check(flag, value, text, range);
    return value;
  };
}

/** A parser of a finite-number flag in `[min, max]` (`above`: strictly greater). */
export function numberFlag(
  flag: string,
  range: { readonly min?: number; readonly max?: number; readonly above?: number } = {},
): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value)) throw new InvalidArgumentError(`${flag} must be a number, got "${text}"`);
    if (range.above !== undefined && !(value > range.above))
      throw new InvalidArgumentError(`${flag} must be > ${range.above}, got ${text}`);
    check(flag, value, text, range);
    return value;
  };
}

/** A parser of a comma-separated list of integers (`400,400`), each in `[min, max]`. */
export function integerListFlag(flag: string, range: { readonly min?: number; readonly max?: number } = {}): (text: string) => number[] {
  const one = integerFlag(flag, range);
  return (text) => {
    const parts = text.split(',');
    if (parts.some((p) => p.trim() === ''))
      throw new InvalidArgumentError(`${flag} must be a comma-separated list of integers, got "${text}"`);
    return parts.map((p) => one(p.trim()));
  };
}

function check(flag: string, value: number, text: string, range: { readonly min?: number; readonly max?: number }): void {
  if (range.min !== undefined && value < range.min) throw new InvalidArgumentError(`${flag} must be >= ${range.min}, got ${text}`);
  if (range.max !== undefined && value > range.max) throw new InvalidArgumentError(`${flag} must be <= ${range.max}, got ${text}`);
}

/** `--backend <name>`: one of the backends `useBestBackend` knows, or `auto` (the fastest installed). */
export function backendOption(defaultValue = 'auto'): Option {
  return new Option('--backend <name>', 'backend (auto: the fastest installed)').choices([...BACKEND_ORDER, 'auto']).default(defaultValue);
}

/**
 * `process.argv` for commander without the `--` that `pnpm <script> -- --flag` passes through
 * (commander would read every flag after it as an argument).
 */
export function scriptArguments(argv: readonly string[] = process.argv): string[] {
  const args = [...argv];
  if (args[2] === '--') args.splice(2, 1);
  return args;
}

/** A parser of a comma-separated list of names, each one of `allowed` (`--pairs cnn,mlp`). */
export function choiceListFlag<T extends string>(flag: string, allowed: readonly T[]): (text: string) => T[] {
  return (text) => {
    const items = text.split(',').map((item) => item.trim());
    const bad = items.filter((item) => !(allowed as readonly string[]).includes(item));
    if (bad.length > 0)
      throw new InvalidArgumentError(`${flag}: ${bad.map((b) => `"${b}"`).join(', ')} is not one of ${allowed.join(', ')}`);
    return items as T[];
  };
}

/**
 * For `command.exitOverride(usageExit)`: `--help` and `--version` exit 0, every usage error
 * (a bad value, an unknown flag) exits with status 2 after commander printed its message, as the
 * `kd` bin and the examples document.
 */
export function usageExit(error: CommanderError): never {
  process.exit(error.exitCode === 0 ? 0 : 2);
}
