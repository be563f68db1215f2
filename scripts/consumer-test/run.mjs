#!/usr/bin/env node
// Consumer test: the proof that users can install one @kd package at a time.
//   1. pack every package under packages/ (pnpm pack: workspace: ranges rewritten)
//   2. project A (fresh dir in the OS temp dir, outside the workspace): npm installs ONLY the
//      @kd/core + @kd/crd tarballs and the tfjs peers (4.22.0 from the registry), compiles a
//      TypeScript ESM program with tsc (module nodenext, strict, skipLibCheck false) and runs it,
//      then runs a CommonJS program; both distil a tiny teacher with KD + CRD.
//   3. project B: installs the @kd/core tarball alone + peers; no other @kd/* may appear.
// Usage: node scripts/consumer-test/run.mjs [--keep]   (needs `pnpm build` first)
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packAll, ROOT, seconds } from '../release/lib.mjs';

const TFJS = '4.22.0';
const PEERS = [`@tensorflow/tfjs-core@${TFJS}`, `@tensorflow/tfjs-layers@${TFJS}`, `@tensorflow/tfjs-backend-cpu@${TFJS}`];
const FIXTURES = join(ROOT, 'scripts', 'consumer-test', 'fixtures');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const keep = process.argv.includes('--keep');

const t0 = Date.now();
const { packages } = packAll();
const tarball = (name) => {
  const p = packages.find((q) => q.name === name);
  if (!p) throw new Error(`no package ${name} under packages/`);
  return p.tarball;
};
const work = mkdtempSync(join(tmpdir(), 'kd-consumer-'));
let ok = false;
try {
  // --- project A: @kd/core + @kd/crd --------------------------------------------------------
  const a = project('core-crd', [tarball('@kd/core'), tarball('@kd/crd')]);
  expectKdPackages(a, ['core', 'crd']);
  mkdirSync(join(a, 'src'));
  copyFileSync(join(FIXTURES, 'kd-crd.ts'), join(a, 'src', 'kd-crd.ts'));
  copyFileSync(join(FIXTURES, 'tsconfig.json'), join(a, 'tsconfig.json'));
  copyFileSync(join(FIXTURES, 'kd-crd.cjs'), join(a, 'kd-crd.cjs'));
  step('tsc (ESM, nodenext)', () => run(process.execPath, [TSC, '-p', 'tsconfig.json'], a));
  step('node dist/kd-crd.js (ESM)', () => run(process.execPath, ['dist/kd-crd.js', 'out'], a));
  step('node kd-crd.cjs (CommonJS)', () => run(process.execPath, ['kd-crd.cjs', 'out'], a));
  for (const f of ['student/model.json', 'student/weights.bin', 'student-cjs/model.json']) {
    if (!existsSync(join(a, 'out', f))) throw new Error(`project core-crd: out/${f} was not written`);
  }

  // --- project B: @kd/core alone -----------------------------------------------------------
  const b = project('core-only', [tarball('@kd/core')]);
  expectKdPackages(b, ['core']);
  copyFileSync(join(FIXTURES, 'core-only.mjs'), join(b, 'core-only.mjs'));
  step('node core-only.mjs', () => run(process.execPath, ['core-only.mjs'], b));
  ok = true;
  console.log(`consumer-test: ok in ${seconds(Date.now() - t0)}`);
} finally {
  if (keep || !ok) console.log(`consumer projects kept in ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

function project(name, tarballs) {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: `kd-consumer-${name}`, private: true, type: 'module' }, null, 2)}\n`);
  step(`npm install (${name}: ${tarballs.map((t) => t.split('/').pop()).join(', ')} + tfjs ${TFJS})`, () =>
    run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs, ...PEERS], dir),
  );
  return dir;
}

/** node_modules/@kd holds exactly `expected`, each installed from a local tarball. */
function expectKdPackages(dir, expected) {
  const kdDir = join(dir, 'node_modules', '@kd');
  const found = existsSync(kdDir) ? readdirSync(kdDir).sort() : [];
  const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8'));
  const inLock = Object.keys(lock.packages ?? {})
    .filter((k) => /(^|\/)node_modules\/@kd\//.test(k))
    .map((k) => k.replace(/^.*node_modules\/@kd\//, ''))
    .sort();
  if (found.join() !== [...expected].sort().join() || inLock.join() !== [...expected].sort().join()) {
    throw new Error(`${dir}: expected @kd/{${expected}} only, node_modules has [${found}], lockfile has [${inLock}]`);
  }
  for (const name of expected) {
    const entry = lock.packages[`node_modules/@kd/${name}`];
    if (!entry?.resolved?.startsWith('file:')) throw new Error(`@kd/${name} was not installed from the local tarball: ${entry?.resolved}`);
    const manifest = JSON.parse(readFileSync(join(kdDir, name, 'package.json'), 'utf8'));
    if (JSON.stringify(manifest).includes('workspace:')) throw new Error(`@kd/${name}: installed manifest contains workspace:`);
  }
  console.log(`  @kd packages installed: ${found.map((n) => `@kd/${n}`).join(', ')} (from tarballs; nothing else)`);
}

function step(label, fn) {
  const t = Date.now();
  fn();
  console.log(`  ${label}: ${seconds(Date.now() - t)}`);
}

function run(cmd, args, cwd) {
  execFileSync(cmd, args, { cwd, stdio: 'inherit', env: { ...process.env, npm_config_update_notifier: 'false' } });
}
