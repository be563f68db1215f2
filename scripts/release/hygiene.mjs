#!/usr/bin/env node
// Package hygiene of every package under packages/, checked on the tarballs pnpm would publish:
//   - publint --strict (on the tarball)
//   - @arethetypeswrong/cli (on the tarball; node10, node16 CJS/ESM and bundler resolution)
//   - the tarball ships only dist/**, README.md, CHANGELOG.md, package.json (+ LICENSE)
//   - README.md is shipped; dist/ is not empty
//   - no workspace:/catalog:/link:/file: protocol left in the packed manifest
//   - every file named by main / module / types / typesVersions / exports is in the tarball
// Usage: node scripts/release/hygiene.mjs [--only core,crd]   (needs `pnpm build` first)
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { packAll, ROOT, seconds, tarFiles, tarManifest } from './lib.mjs';

const only = (() => {
  const i = process.argv.indexOf('--only');
  return i > 0 ? new Set(process.argv[i + 1].split(',')) : undefined;
})();

const ALLOWED = /^(dist\/.+|README\.md|CHANGELOG\.md|package\.json|LICEN[CS]E(\.md|\.txt)?)$/i;
const DEP_FIELDS = ['dependencies', 'peerDependencies', 'optionalDependencies', 'devDependencies'];
const BAD_PROTOCOL = /^(workspace|catalog|link|file|portal):/;
const bin = (name) => join(ROOT, 'node_modules', '.bin', name);

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
  for (const target of manifestTargets(manifest)) {
    if (target !== 'package.json' && !files.includes(target)) problems.push(`package.json names ${target}, not in the tarball`);
  }

  const publint = spawnSync(bin('publint'), ['run', '--strict', p.tarball], { encoding: 'utf8' });
  const publintOut = `${publint.stdout}${publint.stderr}`;
  if (publint.status !== 0 || !/All good!/.test(publintOut)) problems.push(`publint:\n${indent(publintOut)}`);

  const attw = spawnSync(bin('attw'), ['--no-definitely-typed', '--no-color', '--no-emoji', '--format', 'table-flipped', p.tarball], { encoding: 'utf8' });
  if (attw.status !== 0) problems.push(`attw (are the types wrong):\n${indent(`${attw.stdout}${attw.stderr}`)}`);

  if (problems.length) {
    failed++;
    console.log(`FAIL ${p.name}`);
    for (const pr of problems) console.log(`  - ${pr}`);
  } else {
    console.log(`ok   ${p.name}  (${files.length} files; publint, attw, files, manifest)`);
  }
}
console.log(`hygiene: ${failed ? `${failed} package(s) FAILED` : 'all packages ok'} in ${seconds(Date.now() - t0)}`);
process.exit(failed ? 1 : 0);

function indent(s) {
  return s.trim().split('\n').map((l) => `      ${l}`).join('\n');
}
