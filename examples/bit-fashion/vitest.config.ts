import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'bit-fashion',
    include: ['test/**/*.test.ts'],
    testTimeout: 180_000,
  },
});
