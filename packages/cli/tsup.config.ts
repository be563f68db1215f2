import { defineConfig } from 'tsup';

// ESM only (vega and vega-lite are); the bin gets its shebang from src/bin.ts.
export default defineConfig({
  entry: { index: 'src/index.ts', flags: 'src/flags.ts', bin: 'src/bin.ts' },
  format: ['esm'],
  dts: { entry: { index: 'src/index.ts', flags: 'src/flags.ts' } },
  sourcemap: true,
  clean: true,
  target: 'es2022',
  external: [/^@tensorflow\//, /^@kd\//, 'vega', 'vega-lite', 'yaml', 'commander', 'zod', 'playwright-core'],
});
