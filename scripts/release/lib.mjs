// Shared helpers of the release checks (scripts/release-check.sh): find the publishable
// packages under packages/, pack them with pnpm (which rewrites workspace: ranges) and read
// tarballs without extra dependencies.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Publishable (non-private) packages under `root`/packages/, sorted by directory name. */
export function workspacePackages(root = ROOT) {
  const base = join(root, 'packages');
  return readdirSync(base)
    .filter((d) => existsSync(join(base, d, 'package.json')))
    .sort()
    .map((d) => {
      const dir = join(base, d);
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      return { dir, short: d, name: manifest.name, version: manifest.version, manifest };
    })
    .filter((p) => !p.manifest.private);
}

export function tarballName(name, version) {
  return `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`;
}

/**
 * Packs every package into `dest` (or into $KD_PACK_DIR when it already holds the tarballs, so
 * release-check.sh packs once for all checks). Returns [{ name, short, dir, tarball }].
 */
export function packAll({ dest = process.env.KD_PACK_DIR, quiet = false } = {}) {
  const out = dest ?? mkdtempSync(join(tmpdir(), 'kd-pack-'));
  if (!dest) process.on('exit', () => rmSync(out, { recursive: true, force: true })); // own temp dir
  const pkgs = workspacePackages();
  for (const p of pkgs) {
    p.tarball = join(out, tarballName(p.name, p.version));
    if (existsSync(p.tarball)) continue;
    if (!existsSync(join(p.dir, 'dist'))) {
      throw new Error(`${p.name}: no dist/ — run \`pnpm build\` first`);
    }
    execFileSync('pnpm', ['pack', '--pack-destination', out], { cwd: p.dir, stdio: quiet ? 'ignore' : ['ignore', 'ignore', 'inherit'] });
    if (!existsSync(p.tarball)) throw new Error(`${p.name}: pnpm pack did not write ${p.tarball}`);
  }
  return { dir: out, packages: pkgs };
}

/** File names inside a tarball, without the leading `package/`. */
export function tarFiles(tarball) {
  return execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((f) => f.replace(/^package\//, ''));
}

/** The package.json inside a tarball, parsed. */
export function tarManifest(tarball) {
  return JSON.parse(execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }));
}

/** Milliseconds -> "12.3 s". */
export const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
