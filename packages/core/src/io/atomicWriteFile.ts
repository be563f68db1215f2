import { randomBytes } from 'node:crypto';
import { open, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ioError } from '../errors';
import { ensureDirectory } from './ensureDirectory';

/** Infix of the temporary files {@link atomicWriteFile} writes next to their target. */
const TEMPORARY = '.tmp-';
/** Prefix of the files a store's probe writes (`.kd-probe-<pid>-<hex>`), also removed when stale. */
export const PROBE = '.kd-probe-';

/**
 * Writes a file atomically: the bytes go to a temporary file in the same directory, are flushed
 * to disk, then the file is renamed over the target. A crash leaves either the old file or the
 * new one, never a partial file (a leftover temporary file is removed by
 * {@link removeStaleTemporaries}). Failures are `io-error`s naming the path.
 */
export async function atomicWriteFile(path: string, bytes: Uint8Array | string): Promise<void> {
  await ensureDirectory(dirname(path));
  const temporary = `${path}${TEMPORARY}${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const handle = await open(temporary, 'w');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
    await syncDirectory(dirname(path));
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => undefined);
    throw ioError('write', path, error);
  }
}

/**
 * Removes temporary files of {@link atomicWriteFile} for `path` (and probe files in its
 * directory) left by a process that was killed mid-write (`<path>.tmp-<pid>-<hex>` whose process
 * is gone, or older than `maxAgeMs`). Returns how many were removed.
 */
export async function removeStaleTemporaries(path: string, maxAgeMs = 60 * 60 * 1000): Promise<number> {
  const directory = dirname(path);
  const prefixes = [`${basename(path)}${TEMPORARY}`, PROBE];
  const names = await readdir(directory).catch(() => [] as string[]);
  let removed = 0;
  for (const name of names) {
    const prefix = prefixes.find((p) => name.startsWith(p));
    if (prefix === undefined) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    const file = join(directory, name);
    const old = await stat(file).then(
      (s) => Date.now() - s.mtimeMs > maxAgeMs,
      () => false,
    );
    if (pid === process.pid && !old) continue;
    if (!old && Number.isInteger(pid) && processAlive(pid)) continue;
    await rm(file, { force: true }).catch(() => undefined);
    removed++;
  }
  return removed;
}

/** Flushes a directory entry (the rename) to disk; best effort (some file systems refuse). */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r').catch(() => undefined);
  if (!handle) return;
  try {
    await handle.sync();
  } catch {
    // fsync of a directory is unsupported on some platforms and file systems.
  } finally {
    await handle.close();
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}
