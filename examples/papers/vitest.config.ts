import { defineProject } from 'vitest/config';
import { sourceAliases } from '../../vitest.source';

export default defineProject({
  resolve: { alias: sourceAliases() },
  test: {
    name: 'papers',
    include: ['test/**/*.test.ts'],
    testTimeout: 600_000,
  },
});
