#!/usr/bin/env node
// The version step of a release: `changeset version`, plus the one-time first-release mode.
//
//   node scripts/release/version.mjs                  same as `pnpm changeset version`
//   node scripts/release/version.mjs --first-release  once, for the first published version
//   node scripts/release/version.mjs --auto           --first-release while no CHANGELOG.md exists,
//                                                     else plain (`pnpm version-packages`)
//
// Why a first-release mode: the @kd/* packages already carry their first real version (0.1.0,
// set by hand in issue 13 so that the tarballs' internal ranges resolve, see README.md here),
// while the pending .changeset/*.md files are the notes OF that version. A plain
// `changeset version` would bump once more (0.1.0 -> 0.2.0 for minor changesets) and file the
// notes under 0.2.0. --first-release rewinds the publishable packages' "version" fields to
// 0.0.0, checks with the release plan that `changeset version` brings every one of them back to
// the version in package.json (else it restores the fields and stops: e.g. a major changeset
// would make it 1.0.0), then runs `changeset version`: the changesets are consumed into a
// "## 0.1.0" CHANGELOG.md section of every package and the versions stay 0.1.0. It refuses once
// any package has a CHANGELOG.md (that is, after the first release). Options: --cwd DIR (the
// repository root; default this checkout; version-dry-run.mjs uses a throwaway copy).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { ROOT, workspacePackages } from './lib.mjs';

const arg = (name) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const cwd = resolve(arg('--cwd') ?? ROOT);
// --auto (what `pnpm version-packages` runs): the first-release mode until a CHANGELOG.md exists.
const anyChangelog = () => workspacePackages(cwd).some((p) => existsSync(join(p.dir, 'CHANGELOG.md')));
const first = process.argv.includes('--first-release') || (process.argv.includes('--auto') && !anyChangelog());
const changeset = join(ROOT, 'node_modules', '.bin', 'changeset');
const fromCli = createRequire(realpathSync(join(ROOT, 'node_modules', '@changesets', 'cli', 'package.json')));
const getReleasePlan = fromCli('@changesets/get-release-plan').default;

/** Rewrites only the top-level "version" line of a package.json (formatting kept). */
function setVersion(dir, version) {
  const file = join(dir, 'package.json');
  const text = readFileSync(file, 'utf8');
  const out = text.replace(/^( {2}"version": )"[^"]*"/m, `$1"${version}"`);
  if (JSON.parse(out).version !== version) throw new Error(`${file}: could not set "version"`);
  writeFileSync(file, out);
}

if (first) {
  const pkgs = workspacePackages(cwd);
  const logged = pkgs.filter((p) => existsSync(join(p.dir, 'CHANGELOG.md')));
  if (logged.length) {
    console.error(`version --first-release: ${logged.map((p) => p.name).join(', ')} already have a CHANGELOG.md (the first release was versioned); run without --first-release`);
    process.exit(1);
  }
  const target = new Map(pkgs.map((p) => [p.name, p.version]));
  for (const p of pkgs) setVersion(p.dir, '0.0.0');
  let plan;
  try {
    plan = await getReleasePlan(cwd);
  } catch (e) {
    for (const p of pkgs) setVersion(p.dir, target.get(p.name));
    throw e;
  }
  const bumped = new Map(plan.releases.filter((r) => r.type !== 'none').map((r) => [r.name, r.newVersion]));
  const wrong = pkgs.filter((p) => bumped.get(p.name) !== target.get(p.name));
  if (wrong.length) {
    for (const p of pkgs) setVersion(p.dir, target.get(p.name));
    console.error('version --first-release: from 0.0.0 the pending changesets would give');
    for (const p of wrong) console.error(`  ${p.name}: ${bumped.get(p.name) ?? 'no release'} (package.json says ${target.get(p.name)})`);
    console.error('package.json files restored; nothing versioned. Fix the changesets or the versions first.');
    process.exit(1);
  }
  console.log(`version --first-release: ${pkgs.length} packages rewound to 0.0.0; ${plan.changesets.length} changesets give ${[...new Set(target.values())].join(', ')}`);
}
execFileSync(changeset, ['version'], { cwd, stdio: 'inherit' });
