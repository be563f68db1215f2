import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type MergedRegistry, mergeRegistries, type Registry } from '@kd/core';
import { CliError } from '../errors';

/** The packages every run loads: core's methods and optimizers, the data sources, the small models. */
export const DEFAULT_PACKAGES = ['@kd/core', '@kd/data/node', '@kd/models'] as const;

/**
 * Imports `specifier` (a package name or `name/subpath`): first as the command line resolves it
 * (its own dependencies), then from `baseDirectory` (the config's folder: a project that
 * installed the plugin packages next to its configs), through the package's ESM entry.
 */
export async function importPackage(specifier: string, baseDirectory: string): Promise<Record<string, unknown>> {
  try {
    return (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  const [scopeOrName, ...rest] = specifier.split('/');
  const name = scopeOrName!.startsWith('@') ? `${scopeOrName}/${rest.shift() ?? ''}` : scopeOrName!;
  const subpath = rest.length ? `./${rest.join('/')}` : '.';
  let manifestPath: string;
  try {
    manifestPath = createRequire(join(baseDirectory, 'noop.js')).resolve(`${name}/package.json`);
  } catch (error) {
    throw new CliError(
      'package-not-found',
      `package "${specifier}" is not installed where the config is (${baseDirectory}) nor beside the kd command line: install it (npm install ${name})`,
      { cause: error },
    );
  }
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as {
    exports?: Record<string, unknown>;
    module?: string;
    main?: string;
  };
  const entry = esmEntry(manifest, subpath);
  if (!entry) throw new CliError('package-not-found', `package "${specifier}": ${manifestPath} exports no "${subpath}" entry`);
  return (await import(pathToFileURL(join(dirname(manifestPath), entry)).href)) as Record<string, unknown>;
}

function esmEntry(manifest: { exports?: Record<string, unknown>; module?: string; main?: string }, subpath: string): string | undefined {
  const target = manifest.exports?.[subpath];
  const pick = (t: unknown): string | undefined => {
    if (typeof t === 'string') return t;
    if (t === null || typeof t !== 'object') return undefined;
    const conditions = t as Record<string, unknown>;
    return pick(conditions['import'] ?? conditions['node'] ?? conditions['default']);
  };
  return pick(target) ?? (subpath === '.' ? (manifest.module ?? manifest.main) : undefined);
}

function isNotFound(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code;
  return (
    code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || /Cannot find (package|module)|Failed to load url/.test(String(error))
  );
}

/**
 * The merged registry of the default packages and `packages` (in that order). Each must export
 * `registry`; two registering one name is core's `registry-conflict`.
 */
export async function loadRegistry(packages: readonly string[], baseDirectory: string): Promise<MergedRegistry> {
  const names = [...new Set([...DEFAULT_PACKAGES, ...packages])];
  const parts: { from: string; registry: Registry }[] = [];
  for (const name of names) {
    const module = await importPackage(name, baseDirectory);
    const registry = module['registry'];
    if (registry === null || typeof registry !== 'object') {
      throw new CliError(
        'no-registry',
        `package "${name}" exports no registry (a plugin package exports \`registry = defineRegistry({ ... })\`)`,
      );
    }
    parts.push({ from: name, registry: registry as Registry });
  }
  return mergeRegistries(parts);
}
