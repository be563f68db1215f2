import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Aliases every workspace package's entry points (`@kd/core`, `@kd/core/node`, ...) to their
 * TypeScript sources, so tests run against `src/` without waiting for a build. Published
 * packages are unaffected: this is read by the vitest configs only. Tests of the built output
 * (`test/package.test.ts`, the release checks) load `dist/` in a plain Node process.
 */
export function sourceAliases(): { find: RegExp; replacement: string }[] {
  const packages = fileURLToPath(new URL('./packages/', import.meta.url));
  const aliases: { find: RegExp; replacement: string }[] = [];
  for (const dir of readdirSync(packages)) {
    const manifest = `${packages}${dir}/package.json`;
    if (!existsSync(manifest)) continue;
    const { name, exports } = JSON.parse(readFileSync(manifest, 'utf8')) as { name: string; exports?: Record<string, unknown> };
    for (const key of Object.keys(exports ?? {})) {
      if (key === './package.json') continue;
      const entry = key === '.' ? 'index' : key.slice(2);
      const source = `${packages}${dir}/src/${entry}.ts`;
      const specifier = key === '.' ? name : `${name}/${entry}`;
      if (existsSync(source)) aliases.push({ find: new RegExp(`^${specifier.replace(/[/]/g, '\\/')}$`), replacement: source });
    }
  }
  return aliases;
}
