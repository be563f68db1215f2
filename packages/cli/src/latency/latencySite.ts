import { resolve, sep } from 'node:path';
import type { LatencyModel } from './latencyOptions';
import { latencyPageHtml } from './latencyPage';
import type { StaticResponse } from './staticServer';
import type { BrowserBundle } from './tfjsBundles';

/** The URL path of the `index`-th model's `model.json` on the latency site. */
export function modelUrlPath(index: number): string {
  return `/models/${index}/model.json`;
}

/**
 * The routes of the latency site: `/index.html` (the page loading `bundles`), each bundle at its
 * `urlPath`, and the files of `models[i].directory` under `/models/i/` (nothing outside it).
 */
export function latencySiteRoute(
  models: readonly LatencyModel[],
  bundles: readonly BrowserBundle[],
): (path: string) => StaticResponse | undefined {
  const html = latencyPageHtml(bundles);
  const bundleFiles = new Map(bundles.map((b) => [b.urlPath, b.file]));
  const roots = models.map((m) => resolve(m.directory));
  return (path) => {
    if (path === '/' || path === '/index.html') return { body: html, contentType: 'text/html; charset=utf-8' };
    const bundle = bundleFiles.get(path);
    if (bundle) return { file: bundle };
    const match = /^\/models\/(\d+)\/(.+)$/.exec(path);
    const root = match ? roots[Number(match[1])] : undefined;
    if (!match || root === undefined) return undefined;
    const file = resolve(root, match[2]!);
    return file.startsWith(root + sep) ? { file } : undefined;
  };
}
