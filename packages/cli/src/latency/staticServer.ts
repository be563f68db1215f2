import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname } from 'node:path';

/** What the site answers for one URL path: an installed file, or text made in memory. */
export type StaticResponse = { readonly file: string } | { readonly body: string; readonly contentType: string };

/** A running localhost site; `close()` stops it (open connections included). */
export interface StaticSite {
  /** `http://127.0.0.1:PORT`. */
  readonly origin: string;
  /** Stops the server and ends its connections. */
  close(): Promise<void>;
}

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.bin': 'application/octet-stream',
};

/**
 * Serves GET and HEAD requests on 127.0.0.1 (a free port) from `route`, which maps a decoded
 * URL path to what to send, or `undefined` for a 404. Every response is cross-origin isolated
 * (COOP `same-origin`, COEP `require-corp`), which gives the page's `performance.now()` its fine
 * resolution; the site serves nothing of another origin.
 */
export function serveStatic(route: (path: string) => StaticResponse | undefined): Promise<StaticSite> {
  const server = createServer((request, response) => {
    response.setHeader('cross-origin-opener-policy', 'same-origin');
    response.setHeader('cross-origin-embedder-policy', 'require-corp');
    response.setHeader('cache-control', 'no-store');
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405).end();
      return;
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
    } catch {
      response.writeHead(400).end('bad path');
      return;
    }
    const found = route(path);
    if (found && 'body' in found) {
      response.writeHead(200, { 'content-type': found.contentType });
      response.end(request.method === 'HEAD' ? undefined : found.body);
      return;
    }
    const size = found ? fileSize(found.file) : undefined;
    if (!found || size === undefined) {
      response.writeHead(404).end('not found');
      return;
    }
    response.writeHead(200, { 'content-type': contentTypes[extname(found.file)] ?? 'application/octet-stream', 'content-length': size });
    if (request.method === 'HEAD') response.end();
    else
      createReadStream(found.file)
        .on('error', () => response.destroy())
        .pipe(response);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ origin: `http://127.0.0.1:${port}`, close: () => closeServer(server) });
    });
  });
}

/** The size of a regular file, or `undefined` when there is none. */
function fileSize(file: string): number | undefined {
  try {
    const stat = statSync(file);
    return stat.isFile() ? stat.size : undefined;
  } catch {
    return undefined;
  }
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
