import { DistillationError, optionsSchema, parseOptions } from '@kd/core';
import { z } from 'zod';
import { TeacherStoreError } from './errors';
import { loadStore, type StoreCheckOptions, type StoreReader, storeCheckFields } from './read';
import type { StoredTeacher } from './storedTeacher';

/** What {@link fetchStoredTeacher} reads of a response (a `Response` of `fetch` has it). */
export interface StoreResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly statusText?: string;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** The part of `fetch` a store is read with: `GET url`, answered with a status and the body (`globalThis.fetch` is one). */
export type StoreFetch = (url: string) => Promise<StoreResponse>;

/** Options of {@link fetchStoredTeacher}. */
export interface FetchStoredTeacherOptions extends StoreCheckOptions {
  /**
   * The `fetch` to read the store with. Default `globalThis.fetch`. Pass one to add headers or
   * credentials, to cache, or to serve a test's files.
   */
  readonly fetch?: StoreFetch;
}

/** Schema of {@link FetchStoredTeacherOptions}. */
export const fetchStoredTeacherSchema = optionsSchema<FetchStoredTeacherOptions>()({
  fetch: z.custom<StoreFetch>((v) => typeof v === 'function', { message: 'must be a function (a fetch)' }).optional(),
  ...storeCheckFields,
});

const CALLER = 'fetchStoredTeacher';

/** The store's URL as a directory (a trailing slash), absolute against the page where there is one. */
function directoryUrl(url: string | URL): string {
  const text = String(url);
  const directory = text.endsWith('/') ? text : `${text}/`;
  const page = (globalThis as { location?: { href?: string } }).location?.href;
  try {
    return new URL(directory, page).href;
  } catch {
    return directory; // relative, with no page to resolve it against: the fetch given resolves it
  }
}

/**
 * The teacher of a store served over HTTP (browser-safe; in Node, `storedTeacher(dir)` of
 * `@kd/teacher-store/node` reads a directory). `url` is the store's directory (the one
 * `precomputeTeacher` wrote, served as static files), absolute or relative to the page:
 * `manifest.json` and every shard are fetched relative to it and checked as `storedTeacher`
 * checks them (the manifest, the teacher / source given, each shard's SHA-256, rows, columns and
 * ids, the SHA-256 of all ids). HTTP 404 is `store-not-found` for the manifest and
 * `store-bad-shard` for a shard; any other failed request (another status, a network error, a
 * body cut short) is `store-fetch-failed`, naming the URL and the status.
 *
 * @example
 * ```ts
 * const teacher = await fetchStoredTeacher('/stores/teacher/', { fingerprint });
 * ```
 */
export async function fetchStoredTeacher(url: string | URL, options: FetchStoredTeacherOptions = {}): Promise<StoredTeacher> {
  const { fetch: given, ...checks } = parseOptions(fetchStoredTeacherSchema, options, CALLER);
  if (typeof url !== 'string' && !(url instanceof URL)) {
    throw new DistillationError('bad-option', `${CALLER}: the store URL must be a string or a URL, got ${typeof url}`);
  }
  const fetchFile: StoreFetch =
    given ??
    ((target) => {
      const native = (globalThis as { fetch?: StoreFetch }).fetch;
      if (typeof native !== 'function')
        throw new DistillationError('bad-option', `${CALLER}: this runtime has no fetch; pass option "fetch"`);
      return native(target);
    });
  const base = directoryUrl(url);
  const locate = (file: string) => `${base}${file}`;
  const read: StoreReader = async (file) => {
    const target = locate(file);
    let response: StoreResponse;
    try {
      response = await fetchFile(target);
    } catch (error) {
      if (error instanceof DistillationError) throw error;
      throw new TeacherStoreError('store-fetch-failed', `${CALLER}: GET ${target} failed (${(error as Error)?.message ?? error})`, {
        cause: error,
      });
    }
    if (response.status === 404) return undefined;
    if (!response.ok) {
      throw new TeacherStoreError(
        'store-fetch-failed',
        `${CALLER}: GET ${target} answered HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`,
      );
    }
    try {
      return new Uint8Array(await response.arrayBuffer());
    } catch (error) {
      throw new TeacherStoreError(
        'store-fetch-failed',
        `${CALLER}: GET ${target}: the body (HTTP ${response.status}) could not be read (${(error as Error)?.message ?? error})`,
        { cause: error },
      );
    }
  };
  return loadStore(read, { caller: CALLER, store: base, locate, notFound: 'HTTP 404' }, checks);
}
