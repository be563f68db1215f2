import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** A browser script the latency page loads: its URL path and the installed file it is. */
export interface BrowserBundle {
  /** Path on the latency site, e.g. `/tfjs/tf-core.min.js`. */
  readonly urlPath: string;
  /** The installed file. */
  readonly file: string;
}

/** The UMD bundles, in load order: each adds to the global `tf` of the one before. */
const bundles = [
  ['@tensorflow/tfjs-core', 'tf-core.min.js'],
  ['@tensorflow/tfjs-backend-cpu', 'tf-backend-cpu.min.js'],
  ['@tensorflow/tfjs-layers', 'tf-layers.min.js'],
] as const;

/**
 * The installed tfjs browser bundles (tfjs-core, tfjs-backend-cpu, tfjs-layers `dist/*.min.js`),
 * in the order the page must load them. The backend's optional `seedrandom` global is not loaded:
 * only random kernels (none of a prediction's) read it.
 */
export function tfjsBrowserBundles(): BrowserBundle[] {
  const require = createRequire(import.meta.url);
  return bundles.map(([name, file]) => ({
    urlPath: `/tfjs/${file}`,
    file: join(dirname(require.resolve(`${name}/package.json`)), 'dist', file),
  }));
}
