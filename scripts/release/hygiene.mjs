#!/usr/bin/env node
// Package hygiene of every package under packages/, checked on the tarballs pnpm would publish:
//   - publint --strict (on the tarball)
//   - @arethetypeswrong/cli (on the tarball; node10, node16 CJS/ESM and bundler resolution)
//   - the tarball ships only dist/**, README.md, CHANGELOG.md, package.json (+ LICENSE)
//   - README.md is shipped; dist/ is not empty
//   - no workspace:/catalog:/link:/file: protocol left in the packed manifest
//   - every file named by main / module / types / typesVersions / exports is in the tarball
//   - internal dependencies (issue 13): every @kd/* range in dependencies / peerDependencies /
//     optionalDependencies names a published sibling and accepts the version of the sibling's
//     tarball; every @kd/* module the dist/ code imports is declared there; @kd/core is only
//     ever a peer (a plugin bundling or depending on it would get a second copy of Distiller);
//     no private package (@kd/testing) is a runtime dependency
// Usage: node scripts/release/hygiene.mjs [--only core,crd]   (needs `pnpm build` first)
import { execFileSync, spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packAll, ROOT, seconds, tarFiles, tarManifest } from './lib.mjs';

const only = (() => {
  const i = process.argv.indexOf('--only');
  return i > 0 ? new Set(process.argv[i + 1].split(',')) : undefined;
})();

const ALLOWED = /^(dist\/.+|README\.md|CHANGELOG\.md|package\.json|LICEN[CS]E(\.md|\.txt)?)$/i;
const DEP_FIELDS = ['dependencies', 'peerDependencies', 'optionalDependencies', 'devDependencies'];
const BAD_PROTOCOL = /^(workspace|catalog|link|file|portal):/;
const RUNTIME_FIELDS = ['dependencies', 'peerDependencies', 'optionalDependencies'];
const bin = (name) => join(ROOT, 'node_modules', '.bin', name);
// semver, as @changesets/cli (a root devDependency) resolves it
const semver = createRequire(realpathSync(join(ROOT, 'node_modules', '@changesets', 'cli', 'package.json')))('semver');

function manifestTargets(m) {
  const out = new Set();
  for (const f of ['main', 'module', 'types', 'typings', 'browser']) if (typeof m[f] === 'string') out.add(m[f]);
  const walk = (v) => {
    if (typeof v === 'string') out.add(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(m.exports);
  walk(m.typesVersions);
  return [...out].filter((t) => !t.includes('*')).map((t) => t.replace(/^\.\//, ''));
}

const t0 = Date.now();
const { packages } = packAll();
const versions = new Map(packages.map((p) => [p.name, p.version]));
let failed = 0;
for (const p of packages) {
  if (only && !only.has(p.short) && !only.has(p.name)) continue;
  const problems = [];
  const files = tarFiles(p.tarball);
  const manifest = tarManifest(p.tarball);

  for (const f of files) if (!ALLOWED.test(f)) problems.push(`ships ${f} (only dist/**, README.md, CHANGELOG.md, package.json, LICENSE allowed)`);
  if (!files.includes('README.md')) problems.push('README.md is not in the tarball');
  if (!files.some((f) => f.startsWith('dist/'))) problems.push('dist/ is empty or missing');
  for (const field of DEP_FIELDS) {
    for (const [dep, range] of Object.entries(manifest[field] ?? {})) {
      if (BAD_PROTOCOL.test(range)) problems.push(`${field}.${dep} = "${range}" left in the packed manifest`);
    }
  }
  problems.push(...internalDependencyProblems(p, manifest, files));
  for (const target of manifestTargets(manifest)) {
    if (target !== 'package.json' && !files.includes(target)) problems.push(`package.json names ${target}, not in the tarball`);
  }

  const publint = spawnSync(bin('publint'), ['run', '--strict', p.tarball], { encoding: 'utf8' });
  const publintOut = `${publint.stdout}${publint.stderr}`;
  if (publint.status !== 0 || !/All good!/.test(publintOut)) problems.push(`publint:\n${indent(publintOut)}`);

  // An ESM-only package (no "require" condition: @kd/cli, whose vega is ESM only) is checked with attw's esm-only profile.
  const esmOnly = !JSON.stringify(manifest.exports ?? {}).includes('"require"');
  const profile = esmOnly ? ['--profile', 'esm-only'] : [];
  const attw = spawnSync(bin('attw'), ['--no-definitely-typed', '--no-color', '--no-emoji', '--format', 'table-flipped', ...profile, p.tarball], { encoding: 'utf8' });
  if (attw.status !== 0) problems.push(`attw (are the types wrong):\n${indent(`${attw.stdout}${attw.stderr}`)}`);

  if (problems.length) {
    failed++;
    console.log(`FAIL ${p.name}`);
    for (const pr of problems) console.log(`  - ${pr}`);
  } else {
    console.log(`ok   ${p.name}  (${files.length} files; publint, attw, files, manifest, internal deps)`);
  }
}
console.log(`hygiene: ${failed ? `${failed} package(s) FAILED` : 'all packages ok'} in ${seconds(Date.now() - t0)}`);
process.exit(failed ? 1 : 0);

/** See the header: internal @kd/* dependencies of one packed manifest. */
function internalDependencyProblems(p, manifest, files) {
  const out = [];
  const declared = new Set();
  for (const field of RUNTIME_FIELDS) {
    for (const [dep, range] of Object.entries(manifest[field] ?? {})) {
      if (!dep.startsWith('@kd/')) continue;
      declared.add(dep);
      const version = versions.get(dep);
      if (!version) out.push(`${field}.${dep}: not a published package under packages/ (private or missing)`);
      else if (!semver.satisfies(version, range)) out.push(`${field}.${dep} = "${range}" does not accept ${dep}@${version}, the version of its tarball`);
      if (dep === '@kd/core' && field !== 'peerDependencies') out.push(`${field}.${dep}: @kd/core must be a peer dependency (one copy, the user's)`);
    }
  }
  const code = files.filter((f) => /^dist\/.+\.(c|m)?js$/.test(f)).map((f) => `package/${f}`);
  const text = code.length ? execFileSync('tar', ['-xzOf', p.tarball, ...code], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 }) : '';
  const imported = new Set([...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)["'](@kd\/[a-z0-9-]+)/g)].map((m) => m[1]));
  for (const dep of imported) {
    if (dep !== p.name && !declared.has(dep)) out.push(`dist/ imports ${dep}, which is not in dependencies or peerDependencies`);
  }
  return out;
}

function indent(s) {
  return s.trim().split('\n').map((l) => `      ${l}`).join('\n');
}
