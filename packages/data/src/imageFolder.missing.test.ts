import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { expectRefused } from '../test/helpers';
import { imageFolder } from './imageFolder';

// The optional peer "sharp" is installed in this workspace: simulate its absence.
vi.mock('node:module', async (importOriginal) => {
  const missing = (id: string) => {
    throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
  };
  return { ...(await importOriginal<typeof import('node:module')>()), createRequire: () => Object.assign(missing, { resolve: missing }) };
});

const dir = mkdtempSync(join(tmpdir(), 'kd-image-folder-missing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('imageFolder without the sharp package', () => {
  it('throws sharp-not-installed before reading the folder, naming the fix and keeping the cause', async () => {
    mkdirSync(join(dir, 'cat'));
    writeFileSync(join(dir, 'cat', '1.png'), 'not read');
    const error = await expectRefused(() => imageFolder(dir, { size: 8, channels: 3 }), 'sharp-not-installed', 'npm i sharp');
    expect((error.cause as { code?: string }).code).toBe('MODULE_NOT_FOUND');
    // the options are still checked first
    await expectRefused(() => imageFolder(dir, { size: 8, channels: 2 as 3 }), 'bad-option', 'channels');
  });
});
