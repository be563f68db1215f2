import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { errorTables, renderErrorTable } from './errorCodes';

const root = fileURLToPath(new URL('../..', import.meta.url));
const docPath = join(root, 'docs', 'errors.md');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') && !path.endsWith('.test.ts') ? [path] : [];
  });
}

describe('error codes', () => {
  it("docs/errors.md is the generated table of every package's codes", () => {
    const rendered = renderErrorTable();
    // biome-ignore lint/suspicious/noUndeclaredEnvVars: a developer switch to regenerate the file, not a build input.
    if (process.env['KD_WRITE_DOCS'] === '1') writeFileSync(docPath, rendered);
    expect(readFileSync(docPath, 'utf8'), 'run KD_WRITE_DOCS=1 pnpm exec vitest run --project docs').toBe(rendered);
  });

  for (const table of errorTables) {
    it(`${table.name}: every code thrown in src/ is in its own or core's table; no bare Error throws`, () => {
      const core = errorTables[0]!.codes;
      const unknown: string[] = [];
      const bare: string[] = [];
      for (const file of sources(join(root, 'packages', table.folder, 'src'))) {
        const text = readFileSync(file, 'utf8');
        // The first argument of every kd error (NonFiniteLossError's is a term name, not a code).
        for (const match of text.matchAll(/new (?!NonFiniteLossError)[A-Za-z]*Error\(\s*'([a-z0-9-]+)'/g)) {
          const code = match[1]!;
          if (!(code in table.codes) && !(code in core)) unknown.push(`${file.slice(root.length)}: ${code}`);
        }
        for (const match of text.matchAll(/throw new (Error|RangeError|TypeError)\(/g))
          bare.push(`${file.slice(root.length)}: ${match[0]}`);
      }
      expect(unknown).toEqual([]);
      expect(bare).toEqual([]);
    });
  }
});
