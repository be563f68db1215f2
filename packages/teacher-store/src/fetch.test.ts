import { readFileSync, rmSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disposeData, expectRefused, leakedTensors, mlp, toyData } from '../test/helpers';
import { fetchStoredTeacher, readStoredTeacher, type StoredTeacher, type StoreFetch } from './index';
import { precomputeTeacher, storedTeacher } from './node';

let root: string;
let server: Server;
let origin: string;
let teacher: tfl.LayersModel;
let data: ReturnType<typeof toyData>;
const store = () => join(root, 'store');

/** 50 examples in 4 shards (16, 16, 16, 2) with a tapped hidden layer, written by precomputeTeacher. */
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'kd-teacher-store-fetch-'));
  data = toyData(50, 6, 3, 21);
  teacher = mlp(6, 12, 3, 210, { name: 't' });
  await precomputeTeacher(teacher, data, store(), { taps: ['t_hidden'], shardSize: 16, batchSize: 8 });
  // A static server over `root`; /fail/... answers 500.
  server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (path.startsWith('/fail/')) {
      res.writeHead(500, 'Internal Server Error').end('boom');
      return;
    }
    readFile(join(root, path)).then(
      (bytes) => res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(bytes),
      () => res.writeHead(404).end('not found'),
    );
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((ok) => server.close(ok));
  teacher.dispose();
  disposeData(data);
  rmSync(root, { recursive: true, force: true });
});

/** A fetch over the files of `dir`, served at `base` (404 for a file that is not there); records the URLs asked for. */
function filesFetch(dir: string, base = 'https://example.test/teacher/') {
  const asked: string[] = [];
  const fetch: StoreFetch = async (url) => {
    asked.push(url);
    if (!url.startsWith(base)) return { ok: false, status: 404, statusText: 'Not Found', arrayBuffer: async () => new ArrayBuffer(0) };
    const bytes = await readFile(join(dir, url.slice(base.length))).catch(() => undefined);
    if (!bytes) return { ok: false, status: 404, statusText: 'Not Found', arrayBuffer: async () => new ArrayBuffer(0) };
    return {
      ok: true,
      status: 200,
      statusText: 'OK',
      arrayBuffer: async () => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length),
    };
  };
  return { fetch, asked, base };
}

/** The logits and tapped values a stored teacher gives for `ids`, as their float32 bit patterns. */
function outputs(t: StoredTeacher, ids: readonly number[]): { logits: number[]; hidden: number[] } {
  t.tap(['t_hidden']);
  return tf.tidy(() => {
    const p = t.predict(tf.zeros([ids.length, 6]), { ids });
    const bits = (x: tf.Tensor) => Array.from(new Uint32Array((x.dataSync() as Float32Array).slice().buffer));
    return { logits: bits(p.logits), hidden: bits(p.features['t_hidden']!) };
  });
}

// Every shard, shuffled, with a repeat: rows come back in the batch's order.
const ids = [33, 2, 49, 17, 0, 48, 16, 31, 2, 40, 15, 32, 7];

describe('fetchStoredTeacher', () => {
  it('reads a store written by precomputeTeacher through a fetch over its files: the same bits as storedTeacher, no tensors left', async () => {
    const node = await storedTeacher(store(), { teacher });
    const expected = outputs(node, ids);
    const { fetch, asked, base } = filesFetch(store());
    let fetched: StoredTeacher | undefined;
    const leaked = await leakedTensors(async () => {
      fetched = await fetchStoredTeacher(base, { fetch, teacher });
      expect(outputs(fetched, ids)).toEqual(expected);
    });
    expect(leaked).toBe(0);
    expect(asked).toEqual([`${base}manifest.json`, ...node.manifest.shards.map((s) => `${base}${s.file}`)]);
    expect(fetched!.manifest).toEqual(node.manifest);
    expect(fetched!.description).toBe(`stored teacher "${base}" (${node.manifest.teacher.description})`);
    // And the values are the live teacher's own.
    const live = tf.tidy(() =>
      Array.from(new Uint32Array((teacher.predict(tf.gather(data.x, ids)) as tf.Tensor).dataSync().slice().buffer)),
    );
    expect(expected.logits).toEqual(live);
    // The store's URL without a trailing slash is the same directory; a relative one goes to the fetch given as it is.
    const again = await fetchStoredTeacher(base.slice(0, -1), { fetch });
    expect(outputs(again, ids)).toEqual(expected);
    const relativeFiles = filesFetch(store(), 'stores/teacher/');
    expect(outputs(await fetchStoredTeacher('stores/teacher', { fetch: relativeFiles.fetch }), ids)).toEqual(expected);
    expect(relativeFiles.asked[0]).toBe('stores/teacher/manifest.json');
  });

  it('reads it from a local HTTP server with the global fetch, checked against the source it was computed on', async () => {
    const node = outputs(await storedTeacher(store()), ids);
    const url = `${origin}/store/`;
    expect(
      outputs(
        await fetchStoredTeacher(url, { source: data, fingerprint: (await storedTeacher(store())).manifest.teacher.fingerprint }),
        ids,
      ),
    ).toEqual(node);
    await expectRefused(
      () => fetchStoredTeacher(`${origin}/nothing/`),
      'store-not-found',
      `${origin}/nothing/manifest.json does not exist (HTTP 404`,
    );
    await expectRefused(
      () => fetchStoredTeacher(`${origin}/fail/store/`),
      'store-fetch-failed',
      `GET ${origin}/fail/store/manifest.json answered HTTP 500`,
    );
  });

  it('refuses a truncated shard, a missing shard (404), a missing manifest, a server error, a network error, another teacher or source', async () => {
    const manifest = JSON.parse(readFileSync(join(store(), 'manifest.json'), 'utf8'));
    const file = manifest.shards[1].file as string;
    const { fetch, base } = filesFetch(store());
    const bytes = readFileSync(join(store(), file));
    const patched =
      (change: (url: string) => Awaited<ReturnType<StoreFetch>> | undefined): StoreFetch =>
      async (url) =>
        change(url) ?? fetch(url);
    const before = tf.memory().numTensors;
    await expectRefused(
      () =>
        fetchStoredTeacher(base, {
          fetch: patched((url) =>
            url.endsWith(file)
              ? {
                  ok: true,
                  status: 200,
                  arrayBuffer: async () => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length - 10),
                }
              : undefined,
          ),
        }),
      'store-bad-shard',
      `shard ${base}${file} is not the file the manifest lists (SHA-256 differs: truncated or replaced)`,
    );
    const status = (code: number, text: string) => ({
      ok: false,
      status: code,
      statusText: text,
      arrayBuffer: async () => new ArrayBuffer(0),
    });
    await expectRefused(
      () => fetchStoredTeacher(base, { fetch: patched((url) => (url.endsWith(file) ? status(404, 'Not Found') : undefined)) }),
      'store-bad-shard',
      `shard ${base}${file} listed in the manifest is missing (HTTP 404)`,
    );
    await expectRefused(
      () => fetchStoredTeacher(`${base}gone/`, { fetch }),
      'store-not-found',
      `${base}gone/manifest.json does not exist (HTTP 404: no store there, or precomputeTeacher has not finished)`,
    );
    await expectRefused(
      () => fetchStoredTeacher(base, { fetch: patched((url) => (url.endsWith(file) ? status(503, 'Service Unavailable') : undefined)) }),
      'store-fetch-failed',
      `GET ${base}${file} answered HTTP 503 Service Unavailable`,
    );
    await expectRefused(
      () => fetchStoredTeacher(base, { fetch: patched((url) => (url.endsWith('manifest.json') ? status(403, '') : undefined)) }),
      'store-fetch-failed',
      `GET ${base}manifest.json answered HTTP 403`,
    );
    await expectRefused(
      () =>
        fetchStoredTeacher(base, {
          fetch: async () => {
            throw new TypeError('fetch failed');
          },
        }),
      'store-fetch-failed',
      `GET ${base}manifest.json failed (fetch failed)`,
    );
    await expectRefused(
      () =>
        fetchStoredTeacher(base, {
          fetch: patched((url) =>
            url.endsWith(file)
              ? {
                  ok: true,
                  status: 200,
                  arrayBuffer: async () => {
                    throw new TypeError('terminated');
                  },
                }
              : undefined,
          ),
        }),
      'store-fetch-failed',
      `GET ${base}${file}: the body (HTTP 200) could not be read (terminated)`,
    );
    await expectRefused(
      () =>
        fetchStoredTeacher(base, {
          fetch: patched((url) =>
            url.endsWith('manifest.json')
              ? { ok: true, status: 200, arrayBuffer: async () => new TextEncoder().encode('{"format":"kd-teacher-store"').buffer }
              : undefined,
          ),
        }),
      'store-bad-manifest',
      `${base}manifest.json is not valid JSON`,
    );
    const other = mlp(6, 12, 3, 211, { name: 't' });
    await expectRefused(
      () => fetchStoredTeacher(base, { fetch, teacher: other }),
      'store-fingerprint-mismatch',
      `${base} holds the outputs of teacher`,
    );
    other.dispose();
    const elsewhere = toyData(50, 6, 3, 22);
    await expectRefused(
      () => fetchStoredTeacher(base, { fetch, source: elsewhere }),
      'store-source-mismatch',
      'not on the source given: contentSha256',
    );
    disposeData(elsewhere);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses unknown and bad options before fetching anything', async () => {
    const { fetch, asked, base } = filesFetch(store());
    await expectRefused(
      () => fetchStoredTeacher(base, { fecth: fetch } as never),
      'unknown-option',
      'fetchStoredTeacher: unknown option "fecth"; did you mean "fetch"?',
    );
    await expectRefused(() => fetchStoredTeacher(base, { fetch: 'https://x' } as never), 'bad-option', 'option "fetch" must be a function');
    await expectRefused(
      () => fetchStoredTeacher(base, { fetch, fingerprint: 'abc' }),
      'bad-option',
      'option "fingerprint" must be a lower-case hex SHA-256',
    );
    await expectRefused(() => fetchStoredTeacher(42 as never, { fetch }), 'bad-option', 'the store URL must be a string or a URL');
    expect(asked).toEqual([]);
  });
});

describe('readStoredTeacher', () => {
  it('reads a store through any reader (here a map of files) with the same checks', async () => {
    const files = new Map<string, Uint8Array>();
    const manifest = JSON.parse(readFileSync(join(store(), 'manifest.json'), 'utf8'));
    for (const f of ['manifest.json', ...manifest.shards.map((s: { file: string }) => s.file)])
      files.set(f, readFileSync(join(store(), f)));
    const read = async (file: string) => files.get(file);
    const expected = outputs(await storedTeacher(store()), ids);
    expect(outputs(await readStoredTeacher(read, { name: 'in-memory/', teacher }), ids)).toEqual(expected);
    files.delete(manifest.shards[3].file);
    await expectRefused(
      () => readStoredTeacher(read, { name: 'in-memory/' }),
      'store-bad-shard',
      `shard in-memory/${manifest.shards[3].file} listed in the manifest is missing`,
    );
    await expectRefused(
      () => readStoredTeacher(async () => undefined),
      'store-not-found',
      'readStoredTeacher: the store/manifest.json does not exist',
    );
    await expectRefused(() => readStoredTeacher(read, { dir: 'x' } as never), 'unknown-option', 'readStoredTeacher: unknown option "dir"');
  });
});

describe('the main entry', () => {
  it('imports nothing of Node (no node: modules, no @kd/core/node), through every module it reaches', () => {
    const src = dirname(fileURLToPath(import.meta.url));
    const seen = new Set<string>();
    const bad: string[] = [];
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      for (const [, spec] of text.matchAll(/(?:^|\n)\s*(?:(?:import|export)\b[^'";]*?from\s+|import\s+)'([^']+)'/g)) {
        if (spec!.startsWith('./')) visit(join(dirname(file), `${spec}.ts`));
        else if (
          spec!.startsWith('node:') ||
          spec === '@kd/core/node' ||
          !/^(@kd\/core|@tensorflow\/tfjs-core|apache-arrow|zod)$/.test(spec!)
        )
          bad.push(`${relative(src, file)}: ${spec}`);
      }
    };
    visit(join(src, 'index.ts'));
    expect(bad).toEqual([]);
    expect([...seen].map((f) => relative(src, f)).sort()).toEqual([
      'errors.ts',
      'fetch.ts',
      'half.ts',
      'index.ts',
      'manifest.ts',
      'read.ts',
      'shard.ts',
      'sourceCheck.ts',
      'storedTeacher.ts',
    ]);
  });
});
