import { readFile } from 'node:fs/promises';
import { type Checkpoint, type CheckpointStore, decodeCheckpoint, encodeCheckpoint } from '../checkpoint';
import { atomicWriteFile } from './atomicWriteFile';

/**
 * Keeps a run's checkpoint in one file, written atomically (temp file + fsync + rename), so an
 * interrupted save never corrupts the previous checkpoint.
 */
export function fileCheckpointStore(path: string): CheckpointStore {
  return {
    async save(checkpoint: Checkpoint) {
      await atomicWriteFile(path, encodeCheckpoint(checkpoint));
    },
    async load() {
      let bytes: Uint8Array;
      try {
        bytes = await readFile(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
      return decodeCheckpoint(bytes, path);
    },
  };
}
