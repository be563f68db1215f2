import { defineProject } from 'vitest/config';
import { sourceAliases } from '../../vitest.source';

export default defineProject({
  resolve: { alias: sourceAliases() },
  test: {
    name: 'image-folder',
    include: ['test/**/*.test.ts'],
    testTimeout: 180_000,
  },
});
