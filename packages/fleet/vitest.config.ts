import { defineProject } from 'vitest/config';
import { sourceAliases } from '../../vitest.source';

export default defineProject({
  resolve: { alias: sourceAliases() },
  test: {
    name: 'fleet',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 120_000,
  },
});
