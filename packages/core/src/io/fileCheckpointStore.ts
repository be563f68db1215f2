import { type Checkpoint, type CheckpointStore, decodeCheckpoint, encodeCheckpoint } from '../checkpoint';
import { atomicWriteFile } from './atomicWriteFile';
import { readFileIfExists } from './readFileIfExists';

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
      const bytes = await readFileIfExists(path);
      return bytes && decodeCheckpoint(bytes, path);
    },
  };
}
