import { defineProject } from 'vitest/config';
import { sourceAliases } from '../../vitest.source';

export default defineProject({
  resolve: { alias: sourceAliases() },
  test: {
    name: 'bench',
    include: ['test/**/*.test.ts'],
    testTimeout: 300_000,
  },
});
