#!/usr/bin/env node
// Runs the release's version step (scripts/release/version.mjs: `changeset version`; with
// --first-release while no package has a CHANGELOG.md yet, see that file) on a throwaway copy of
// the working tree (tracked + untracked, non-ignored files; a fresh git repo on branch main) —
// never in the workspace itself, where it would consume the pending changesets. Prints the
// version plan and checks that every bumped (or, first release, CHANGELOG'd)
// package got a CHANGELOG.md, that no private package (examples/*) is versioned, and that
// internal ranges still use workspace: (pnpm pack rewrites them). Warns when the plan makes a
// package leave 0.x although no changeset asks for a major bump (changesets does that to
// dependents of a peer dependency: see the report of issue 9) and when a private package is
// versioned; --strict makes warnings errors.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, seconds, workspacePackages } from './lib.mjs';

const strict = process.argv.includes('--strict');
const keep = process.argv.includes('--keep');
const t0 = Date.now();
const copy = mkdtempSync(join(tmpdir(), 'kd-version-'));
const sh = (cmd, args, cwd, opts = {}) => execFileSync(cmd, args, { cwd, encoding: 'utf8', ...opts });
let ok = false;
try {
  const files = sh('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], ROOT).split('\0').filter((f) => f && existsSync(join(ROOT, f)));
  writeFileSync(join(copy, '.files'), files.join('\0'));
  sh('tar', ['--null', '-T', join(copy, '.files'), '-cf', join(copy, '.tree.tar')], ROOT);
  sh('tar', ['-xf', '.tree.tar'], copy);
  rmSync(join(copy, '.files'));
  rmSync(join(copy, '.tree.tar'));
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
  const git = (...a) => sh('git', ['-c', 'user.name=kd-release-check', '-c', 'user.email=release-check@localhost', ...a], copy);
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-qm', 'snapshot');

  const pkgsBefore = readPackages(copy);
  // The first release: package.json already has its version (issue 13); see version.mjs.
  const firstRelease = !workspacePackages(copy).some((p) => existsSync(join(p.dir, 'CHANGELOG.md')));
  const versionArgs = [join(ROOT, 'scripts', 'release', 'version.mjs'), '--cwd', copy, ...(firstRelease ? ['--first-release'] : [])];
  console.log(`  ${firstRelease ? 'first release (no CHANGELOG.md yet): version.mjs --first-release' : 'changeset version'}`);
  sh(process.execPath, versionArgs, copy, { stdio: ['ignore', 'pipe', 'pipe'] });
  const pkgsAfter = readPackages(copy);
  const pending = sh('git', ['ls-files', '.changeset'], copy).split('\n').filter((f) => /\.changeset\/(?!README).+\.md$/.test(f) && existsSync(join(copy, f)));

  const problems = [];
  const warnings = [];
  const asked = askedMajor(join(ROOT, '.changeset'));
  for (const [dir, before] of pkgsBefore) {
    const after = pkgsAfter.get(dir);
    const changelog = join(copy, dir, 'CHANGELOG.md');
    if (before.version === after.version && !(firstRelease && !after.private)) continue;
    console.log(`  ${after.name}: ${before.version} -> ${after.version}${existsSync(changelog) ? ', CHANGELOG.md written' : ''}${after.private ? ' (private)' : ''}`);
    if (after.private) warnings.push(`private package ${after.name} was versioned and got a CHANGELOG.md (set "privatePackages": { "version": false, "tag": false } in .changeset/config.json)`);
    else if (!existsSync(changelog)) problems.push(`${after.name}: no CHANGELOG.md`);
    if (!after.private && before.version.startsWith('0.') && !after.version.startsWith('0.') && !asked.has(after.name)) {
      warnings.push(`${after.name} goes ${before.version} -> ${after.version} (a major) though no changeset asks for one: dependents of a peer dependency are bumped major`);
    }
    for (const field of ['dependencies', 'peerDependencies', 'devDependencies', 'optionalDependencies']) {
      for (const [dep, range] of Object.entries(after.json[field] ?? {})) {
        if (dep.startsWith('@kd/') && !range.startsWith('workspace:')) problems.push(`${after.name}: ${field}.${dep} = ${range} (expected a workspace: range)`);
      }
    }
  }
  if (pending.length) problems.push(`changesets left unconsumed: ${pending.join(', ')}`);
  for (const w of warnings) console.log(`  WARNING ${w}`);
  for (const p of problems) console.log(`  FAIL ${p}`);
  const failed = problems.length > 0 || (strict && warnings.length > 0);
  console.log(`version-dry-run: ${failed ? 'FAILED' : warnings.length ? 'ok with warnings' : 'ok'} in ${seconds(Date.now() - t0)}`);
  ok = !failed;
  process.exitCode = failed ? 1 : 0;
} finally {
  if (keep || !ok) console.log(`  copy kept in ${copy}`);
  else rmSync(copy, { recursive: true, force: true });
}

function readPackages(root) {
  const out = new Map();
  for (const base of ['packages', 'examples']) {
    const dirs = existsSync(join(root, base)) ? sh('ls', [join(root, base)], root).split('\n').filter(Boolean) : [];
    for (const d of dirs) {
      const f = join(root, base, d, 'package.json');
      if (!existsSync(f)) continue;
      const json = JSON.parse(readFileSync(f, 'utf8'));
      out.set(`${base}/${d}`, { name: json.name, version: json.version, private: !!json.private, json });
    }
  }
  return out;
}

function askedMajor(dir) {
  const names = new Set();
  for (const f of sh('ls', [dir], dir).split('\n').filter((x) => x.endsWith('.md'))) {
    const front = readFileSync(join(dir, f), 'utf8').split('---')[1] ?? '';
    for (const m of front.matchAll(/"?([@\w/.-]+)"?\s*:\s*major/g)) names.add(m[1]);
  }
  return names;
}
