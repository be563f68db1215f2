#!/usr/bin/env node
// Builds this package's source at a git revision into bench/.baseline/<rev>/index.js (ESM, tfjs
// external), so the benchmarks can time it against the working tree in the same process:
//   node packages/backend-wasm/bench/baseline.mjs [--rev HEAD]      # prints the path it wrote
//   node packages/backend-wasm/bench/kernels.mjs --baseline <that path>
// bench/.baseline/ is git-ignored. Needs git and the workspace's esbuild (root devDependency).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const i = process.argv.indexOf('--rev');
const rev = i >= 0 ? process.argv[i + 1] : 'HEAD';
const root = execFileSync('git', ['rev-parse', '--show-toplevel'], { cwd: here, encoding: 'utf8' }).trim();
const sha = execFileSync('git', ['rev-parse', '--short', rev], { cwd: root, encoding: 'utf8' }).trim();
const tmp = mkdtempSync(join(tmpdir(), 'kd-wasm-baseline-'));
try {
  const tar = execFileSync('git', ['archive', sha, 'packages/backend-wasm/src'], { cwd: root, maxBuffer: 1 << 28 });
  execFileSync('tar', ['-x', '-C', tmp], { input: tar });
  const outDir = join(here, '.baseline', sha);
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, 'index.js');
  execFileSync(
    join(root, 'node_modules', '.bin', 'esbuild'),
    [
      join(tmp, 'packages/backend-wasm/src/index.ts'),
      '--bundle',
      '--format=esm',
      '--platform=node',
      '--target=es2022',
      '--external:@tensorflow/*',
      '--external:fastest-levenshtein',
      '--log-level=warning',
      `--outfile=${outfile}`,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  console.log(outfile);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
