import { readFile } from 'node:fs/promises';

/** The file's bytes, or undefined when it does not exist (other errors are thrown). */
export async function readFileIfExists(path: string): Promise<Uint8Array | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
