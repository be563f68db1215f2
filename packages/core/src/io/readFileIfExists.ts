import { readFile } from 'node:fs/promises';
import { ioError } from '../errors';

/** The file's bytes, or undefined when it does not exist (other failures are `io-error`s). */
export async function readFileIfExists(path: string): Promise<Uint8Array | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return undefined;
    throw ioError('read', path, error);
  }
}
