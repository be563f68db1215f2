import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Newest modification time (ms) of the non-test TypeScript files under `directory`; 0 when there are none. */
export function newestSourceTime(directory: string): number {
  if (!existsSync(directory)) return 0;
  return Math.max(
    0,
    ...readdirSync(directory, { withFileTypes: true }).map((e) =>
      e.isDirectory()
        ? newestSourceTime(join(directory, e.name))
        : !e.name.endsWith('.ts') || e.name.endsWith('.test.ts')
          ? 0
          : statSync(join(directory, e.name)).mtimeMs,
    ),
  );
}

/**
 * Whether every file of `built` exists and is at least as new as the newest non-test TypeScript
 * source under `sourceDirectory`: a package's `dist/` still matches its `src/` (tests that run the
 * built package skip otherwise; benches that time it refuse).
 */
export function isBuildCurrent(sourceDirectory: string, built: readonly string[]): boolean {
  if (!built.every((file) => existsSync(file))) return false;
  const oldest = Math.min(...built.map((file) => statSync(file).mtimeMs));
  return newestSourceTime(sourceDirectory) <= oldest;
}
