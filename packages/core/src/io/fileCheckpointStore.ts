import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type Checkpoint, type CheckpointStore, decodeCheckpoint, encodeCheckpoint } from '../checkpoint';
import { ioError } from '../errors';
import { atomicWriteFile, PROBE, removeStaleTemporaries } from './atomicWriteFile';
import { ensureDirectory } from './ensureDirectory';
import { readFileIfExists } from './readFileIfExists';

/**
 * Keeps a run's checkpoint in one file, written atomically (temp file + fsync + rename), so an
 * interrupted save never corrupts the previous checkpoint. `fit` calls `probe()` before the first
 * step: it creates the directory, checks that a file can be written there, and removes temporary
 * files that a killed save left behind.
 */
export function fileCheckpointStore(path: string): CheckpointStore {
  if (typeof path !== 'string' || path === '') throw ioError('use checkpoint path', String(path), new Error('not a file path'));
  return {
    description: path,
    async probe() {
      await ensureDirectory(dirname(path));
      const test = join(dirname(path), `${PROBE}${process.pid}-${randomBytes(4).toString('hex')}`);
      try {
        await writeFile(test, '');
      } catch (error) {
        throw ioError('write a checkpoint in', dirname(path), error);
      } finally {
        await rm(test, { force: true }).catch(() => undefined);
      }
      await removeStaleTemporaries(path);
    },
    async save(checkpoint: Checkpoint) {
      await atomicWriteFile(path, encodeCheckpoint(checkpoint));
    },
    async load() {
      const bytes = await readFileIfExists(path);
      return bytes && decodeCheckpoint(bytes, path);
    },
  };
}
