import { basename, dirname, resolve } from 'node:path';
import type { MergedRegistry } from '@kd/core';
import { loadRegistry } from '../registry/loadRegistry';
import { applyOverrides } from './applyOverrides';
import { parseRunConfig } from './parseRunConfig';
import { readConfigFile } from './readConfigFile';
import { type ResolvedRunConfig, resolveRunConfig } from './resolveRunConfig';
import type { RunConfig } from './runConfigSchema';

/** A config file read, checked against its packages' registries and resolved. */
export interface OpenedConfig {
  /** Absolute path of the file. */
  readonly file: string;
  /** The file's name: the start of every message about it. */
  readonly where: string;
  /** The file's folder: relative paths in the config start here. */
  readonly baseDirectory: string;
  readonly config: RunConfig;
  readonly resolved: ResolvedRunConfig;
  readonly registry: MergedRegistry;
}

/** Reads a run config, applies `--set` overrides, checks and resolves it (every error before any work). */
export async function openConfig(configFile: string, overrides: readonly string[] = []): Promise<OpenedConfig> {
  const file = resolve(configFile);
  const where = basename(file);
  const config = parseRunConfig(applyOverrides(await readConfigFile(file), overrides, where), where);
  const baseDirectory = dirname(file);
  const registry = await loadRegistry(config.packages, baseDirectory);
  return { file, where, baseDirectory, config, resolved: resolveRunConfig(config, registry, where), registry };
}
