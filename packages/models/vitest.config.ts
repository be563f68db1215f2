import { defineProject } from 'vitest/config';
import { sourceAliases } from '../../vitest.source';

export default defineProject({
  resolve: { alias: sourceAliases() },
  test: {
    name: 'models',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
  },
});
