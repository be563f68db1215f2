import { defineProject } from 'vitest/config';
import { sourceAliases } from '../../vitest.source';

export default defineProject({
  resolve: { alias: sourceAliases() },
  test: {
    name: 'configs',
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
  },
});
