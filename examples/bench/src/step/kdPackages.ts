import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isBuildCurrent } from '@kd/testing/buildFreshness';

/** The kd packages the step benches time. */
const PACKAGES = ['@kd/core', '@kd/backend-wasm', '@kd/backend-native', '@kd/backend-gpu', '@kd/models'] as const;

/**
 * Which code of the kd packages this process runs: their built `dist/` (what users install; the
 * package scripts `step` and `step-profile` run so, through tsconfig.built.json) or their sources
 * compiled on the fly by tsx (the tests; tsx's name-keeping helpers add a little JavaScript time).
 * Throws when a built package is older than its sources: run `pnpm build` first.
 */
export function kdPackagesLine(): string {
  const resolved = PACKAGES.map((name) => ({ name, path: fileURLToPath(import.meta.resolve(name)) }));
  const built = resolved.filter((r) => r.path.includes('/dist/'));
  if (built.length === 0) return 'kd packages: sources (tsx)';
  const stale = built.filter((r) => !isBuildCurrent(join(dirname(r.path), '..', 'src'), [r.path])).map((r) => r.name);
  if (stale.length > 0) throw new Error(`the built ${stale.join(', ')} are older than their sources: run \`pnpm build\` first`);
  return built.length === resolved.length
    ? 'kd packages: built (dist)'
    : `kd packages: built (${built.map((r) => r.name).join(', ')}), others sources`;
}
