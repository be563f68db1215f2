import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { expectRefused } from '../test/helpers';
import { imageFolder } from './imageFolder';

// A worker that dies (killed, out of memory, a native crash) rejects piscina's run(): simulate it.
vi.mock('piscina', () => ({
  Piscina: class {
    run(): Promise<never> {
      return Promise.reject(new Error('worker exited with code 1'));
    }
    close(): Promise<void> {
      return Promise.resolve();
    }
  },
}));

const dir = mkdtempSync(join(tmpdir(), 'kd-image-folder-worker-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('imageFolder when a decode worker fails', () => {
  it('the read throws image-worker-failed with the cause; workers: 0 does not use the pool', async () => {
    mkdirSync(join(dir, 'cat'));
    writeFileSync(join(dir, 'cat', '1.png'), 'never decoded by the failing pool');
    const source = await imageFolder(dir, { size: 2, channels: 3 });
    const error = await expectRefused(() => source.read(Int32Array.of(0)), 'image-worker-failed', 'worker exited with code 1');
    expect((error.cause as Error).message).toBe('worker exited with code 1');
    await source.close();
    const inline = await imageFolder(dir, { size: 2, channels: 3, workers: 0 });
    await expectRefused(() => inline.read(Int32Array.of(0)), 'image-decode-failed', 'cat/1.png');
  });
});
