import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
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
  const [scopeOrName, ...rest] = specifier.split('/');
  const name = scopeOrName!.startsWith('@') ? `${scopeOrName}/${rest.shift() ?? ''}` : scopeOrName!;
  const subpath = rest.length ? `./${rest.join('/')}` : '.';
  try {
    return (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    // Only "this package is not installed here" falls through; a package that fails to load
    // (or misses a dependency of its own) reports that error.
    const mentions = new RegExp(`(^|['"\\s])${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}(['"\\s/]|$)`);
    if (!isNotFound(error) || !mentions.test(String((error as Error).message))) throw error;
  }
  const root = findPackageRoot(name, baseDirectory);
  if (!root) {
    throw new CliError(
      'package-not-found',
      `package "${specifier}" is not installed where the config is (${baseDirectory}) nor beside the kd command line: install it (npm install ${name})`,
    );
  }
  const manifestPath = join(root, 'package.json');
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as { exports?: unknown; module?: string; main?: string };
  const entry = esmEntry(manifest, subpath);
  if (!entry) throw new CliError('package-not-found', `package "${specifier}": ${manifestPath} exports no "${subpath}" entry`);
  return (await import(pathToFileURL(join(root, entry)).href)) as Record<string, unknown>;
}

/** `node_modules/<name>` in `directory` or the nearest folder above it that has one. */
function findPackageRoot(name: string, directory: string): string | undefined {
  for (let dir = resolve(directory); ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

function esmEntry(manifest: { exports?: unknown; module?: string; main?: string }, subpath: string): string | undefined {
  const exports = manifest.exports;
  // `exports` may be one target, conditions for ".", or a map of subpaths.
  const isSubpathMap = exports !== null && typeof exports === 'object' && Object.keys(exports).some((k) => k.startsWith('.'));
  const target = isSubpathMap ? (exports as Record<string, unknown>)[subpath] : subpath === '.' ? exports : undefined;
  const pick = (t: unknown): string | undefined => {
    if (typeof t === 'string') return t;
    if (t === null || typeof t !== 'object') return undefined;
    const conditions = t as Record<string, unknown>;
    return pick(conditions['import'] ?? conditions['node'] ?? conditions['default']);
  };
  return pick(target) ?? (subpath === '.' && exports === undefined ? (manifest.module ?? manifest.main) : undefined);
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
