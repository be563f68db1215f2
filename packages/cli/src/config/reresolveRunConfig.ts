import type { MergedRegistry } from '@kd/core';
import { CliError } from '../errors';
import { parseRunConfig } from './parseRunConfig';
import { type ResolvedRunConfig, resolveRunConfig } from './resolveRunConfig';

/**
 * The config a resolved one came from, in the form a config file gives it: a one-stage run's
 * stage back as `methods`, `optimizer`, `learningRate` and `training.epochs`; a staged run's
 * stages as they are (each holds its optimizer).
 */
function unresolve(resolved: ResolvedRunConfig): unknown {
  const { staged, stages, ...rest } = resolved;
  if (staged) return { ...rest, stages };
  const only = stages[0];
  if (stages.length !== 1 || !only) return { ...rest, stages };
  return {
    ...rest,
    methods: only.methods,
    optimizer: only.optimizer,
    ...(only.learningRate !== undefined ? { learningRate: only.learningRate } : {}),
    training: { ...rest.training, epochs: only.epochs },
  };
}

/** The path of the first place two JSON values differ (`stages[1].methods[0].weight`), or undefined when equal. */
export function firstDifference(a: unknown, b: unknown, path = ''): string | undefined {
  if (Object.is(a, b)) return undefined;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object' || Array.isArray(a) !== Array.isArray(b)) {
    return path || '(the whole document)';
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  for (const key of [...new Set([...Object.keys(x), ...Object.keys(y)])].sort()) {
    const d = firstDifference(x[key], y[key], path ? `${path}.${key}` : key);
    if (d) return d;
  }
  return undefined;
}

/**
 * Checks a resolved config (a run folder's `config.resolved.json`, or one about to be written)
 * against today's schemas and registry: read back as a config file, it must pass every check a
 * config file passes and resolve to itself. `where` names the file in messages. Throws the
 * config errors of {@link parseRunConfig} / {@link resolveRunConfig} (with the key path), or
 * `bad-run` naming the first key that resolves differently (the file was edited, or the
 * installed packages' defaults changed since the run started, so a resume would not continue
 * the same run).
 */
export function reresolveRunConfig(resolved: unknown, registry: MergedRegistry, where: string): ResolvedRunConfig {
  if (resolved === null || typeof resolved !== 'object' || typeof (resolved as { staged?: unknown }).staged !== 'boolean') {
    throw new CliError('bad-run', `${where}: not a resolved run config (it has no boolean "staged")`);
  }
  const stored = resolved as ResolvedRunConfig;
  if (!Array.isArray(stored.stages)) throw new CliError('bad-run', `${where}: not a resolved run config (it has no "stages" list)`);
  const again = resolveRunConfig(parseRunConfig(unresolve(stored), where), registry, where);
  const difference = firstDifference(JSON.parse(JSON.stringify(again)), resolved);
  if (difference) {
    throw new CliError(
      'bad-run',
      `${where}: "${difference}" does not resolve to itself with the installed packages (edited by hand, or a package's defaults changed since the run started); a resume would not continue the same run`,
    );
  }
  return stored;
}
