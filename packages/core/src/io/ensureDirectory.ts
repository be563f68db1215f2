import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { DistillationError, ioError } from '../errors';

/**
 * Creates `directory` and its missing parents, one level at a time. Node's `mkdir(recursive)`
 * spins at 100 % CPU under `/proc` and `/sys`; this walks up to the nearest existing ancestor,
 * checks it is a directory, and creates each level with a plain `mkdir`, so every failure is a
 * `DistillationError` (`io-error`) naming the path, the operation and the cause.
 */
export async function ensureDirectory(directory: string): Promise<void> {
  const missing: string[] = [];
  let at = resolve(directory);
  for (;;) {
    const found = await stat(at).then(
      (s) => s,
      (error: { code?: string }) => {
        if (error?.code === 'ENOENT' || error?.code === 'ENOTDIR') return undefined;
        throw ioError('inspect', at, error);
      },
    );
    if (found) {
      if (!found.isDirectory()) {
        throw new DistillationError('io-error', `Cannot create directory "${directory}": "${at}" exists and is not a directory`);
      }
      break;
    }
    missing.unshift(at);
    const parent = dirname(at);
    if (parent === at) break;
    at = parent;
  }
  for (const path of missing) {
    await mkdir(path).catch(async (error: { code?: string }) => {
      if (error?.code !== 'EEXIST') throw ioError('create directory', path, error);
      // Created meanwhile by someone else: fine if it is a directory.
      const isDirectory = await stat(path).then(
        (s) => s.isDirectory(),
        () => false,
      );
      if (!isDirectory)
        throw new DistillationError('io-error', `Cannot create directory "${directory}": "${path}" exists and is not a directory`);
    });
  }
}
