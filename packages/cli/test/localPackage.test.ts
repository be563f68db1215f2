import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRegistry } from '../src/registry/loadRegistry';

// Plugin packages installed next to the configs (not beside the command line) are found by
// walking up node_modules from the config's folder, through their ESM entry.
let dir: string;
const write = async (name: string, manifest: object, index: string) => {
  await mkdir(join(dir, 'node_modules', name), { recursive: true });
  await writeFile(join(dir, 'node_modules', name, 'package.json'), JSON.stringify({ name, type: 'module', ...manifest }));
  await writeFile(join(dir, 'node_modules', name, 'index.js'), index);
};
const registry = `export const registry = { models: { localNet: { schema: { safeParse: () => ({ success: true }) }, summary: 'a local model', create: () => null } } };`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kd-local-'));
  await write('kd-local-plain', { exports: './index.js' }, registry);
  await write('kd-local-conditions', { exports: { import: './index.js' } }, registry.replace('localNet', 'conditionsNet'));
  await write('kd-local-broken', { exports: './index.js' }, `import 'kd-missing-dependency';\n${registry}`);
  await mkdir(join(dir, 'configs', 'deep'), { recursive: true });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('packages next to the config', () => {
  it('load from a node_modules above the config folder, whatever the form of their exports', async () => {
    const merged = await loadRegistry(['kd-local-plain', 'kd-local-conditions'], join(dir, 'configs', 'deep'));
    expect(merged.origins.models['localNet']).toBe('kd-local-plain');
    expect(merged.origins.models['conditionsNet']).toBe('kd-local-conditions');
  });

  it('a package that fails to load says why (its missing dependency), not that it is not installed', async () => {
    await expect(loadRegistry(['kd-local-broken'], dir)).rejects.toThrow(/kd-missing-dependency/);
    await expect(loadRegistry(['kd-local-nowhere'], dir)).rejects.toThrow('package "kd-local-nowhere" is not installed');
  });
});
