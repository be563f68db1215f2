import type { Options } from 'tsup';

/**
 * The build every published @kd/* package shares: ESM + CJS + .d.ts for ES2022, source maps,
 * tfjs and sibling @kd packages left external (peers, never bundled), `import.meta.url` shimmed
 * in the CJS build. `entry` names the package's entry points (e.g. `{ index, node }`).
 */
export function packageBuild(entry: Record<string, string>): Options {
  return {
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    shims: true,
    target: 'es2022',
    external: [/^@tensorflow\//, /^@kd\//],
  };
}
