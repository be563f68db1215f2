import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'mnist-distill',
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
  },
});
