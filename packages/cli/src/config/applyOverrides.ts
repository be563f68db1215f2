import { parse } from 'yaml';
import { CliError } from '../errors';

const SEGMENT = /^([A-Za-z_][\w-]*)((?:\[\d+\])*)$/;

/**
 * Applies `--set path=value` overrides to a parsed config before it is checked: `path` is a key
 * path as errors print it (`training.epochs`, `methods[1].weight`, `data.limit.train`), `value`
 * is YAML (`3`, `0.5`, `[float16]`, `{ fraction: 0.1 }`, `text`). Missing objects on the path are
 * created; indexing past the end of a list is an error. The config is not modified.
 */
export function applyOverrides(raw: unknown, overrides: readonly string[], where: string): unknown {
  if (overrides.length === 0) return raw;
  const root = (raw === null || raw === undefined ? {} : structuredClone(raw)) as Record<string, unknown>;
  for (const override of overrides) {
    const eq = override.indexOf('=');
    if (eq <= 0) throw new CliError('bad-config', `--set "${override}": write path=value, e.g. training.epochs=3`);
    const path = override.slice(0, eq).trim();
    let value: unknown;
    try {
      value = parse(override.slice(eq + 1));
    } catch (error) {
      throw new CliError('bad-config', `--set ${path}: the value is not valid YAML: ${(error as Error).message.split('\n')[0]}`, {
        cause: error,
      });
    }
    const keys: (string | number)[] = [];
    for (const segment of path.split('.')) {
      const match = SEGMENT.exec(segment);
      if (!match) throw new CliError('bad-config', `--set "${override}": "${path}" is not a key path (e.g. methods[1].weight)`);
      if (['__proto__', 'constructor', 'prototype'].includes(match[1]!))
        throw new CliError('bad-config', `--set "${override}": "${match[1]}" is not a config key`);
      keys.push(match[1]!, ...[...match[2]!.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1])));
    }
    let at: Record<string | number, unknown> = root;
    keys.forEach((key, i) => {
      const last = i === keys.length - 1;
      if (typeof key === 'string' && Array.isArray(at)) {
        throw new CliError(
          'bad-config',
          `${where}: --set ${path}: ${keys.slice(0, i).join('.')} is a list; index it, e.g. ${keys.slice(0, i).join('.')}[0].${key}`,
        );
      }
      if (typeof key === 'number') {
        if (!Array.isArray(at) || key >= at.length) {
          throw new CliError('bad-config', `${where}: --set ${path}: ${keys.slice(0, i).join('.')} has no item [${key}]`);
        }
      }
      if (last) at[key] = value;
      else {
        const next = at[key];
        if (next === undefined || next === null) at[key] = typeof keys[i + 1] === 'number' ? [] : {};
        else if (typeof next !== 'object')
          throw new CliError('bad-config', `${where}: --set ${path}: ${String(key)} is ${JSON.stringify(next)}, not a mapping`);
        at = at[key] as Record<string | number, unknown>;
      }
    });
  }
  return root;
}
