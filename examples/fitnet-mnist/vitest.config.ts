import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'fitnet-mnist',
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
  },
});
