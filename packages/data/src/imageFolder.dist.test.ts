import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isBuildCurrent } from '@kd/testing/buildFreshness';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { imageFolder } from './imageFolder';

// The built package (dist/) in plain Node processes: the worker file is found next to node.js /
// node.cjs, and a process that never calls close() still exits. Needs a build of the current
// sources (`pnpm test` builds first).
const packageRoot = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kd-image-folder-dist-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function distIsCurrent(): boolean {
  return isBuildCurrent(join(packageRoot, 'src'), [join(packageRoot, 'dist', 'node.js'), join(packageRoot, 'dist', 'decodeWorker.cjs')]);
}

const script = (load: string) => `${load}
const source = await imageFolder(${JSON.stringify(dir)}, { size: [3, 2], channels: 3, workers: 2 });
const { x, ids } = await source.read(Int32Array.of(3, 0, 1, 2));
// no close(): idle workers must not keep the process alive
console.log(JSON.stringify({ ids, x: Array.from(x) }));
`;

describe.skipIf(!distIsCurrent())('imageFolder from dist/', () => {
  it('ESM (node.js -> decodeWorker.js) and CJS (node.cjs -> decodeWorker.cjs) decode as the sources do, and exit without close()', async () => {
    for (const c of ['a', 'b']) {
      mkdirSync(join(dir, c));
      for (let i = 0; i < 2; i++) {
        await sharp({ create: { width: 4 + i, height: 5, channels: 3, background: { r: 40 * i, g: c === 'a' ? 10 : 250, b: 77 } } })
          .png()
          .toFile(join(dir, c, `${i}.png`));
      }
    }
    const source = await imageFolder(dir, { size: [3, 2], channels: 3, workers: 0 });
    const expected = await source.read(Int32Array.of(3, 0, 1, 2));
    const run = (args: string[]) =>
      JSON.parse(execFileSync(process.execPath, args, { cwd: packageRoot, encoding: 'utf8', timeout: 30_000 })) as {
        ids: string[];
        x: number[];
      };
    const esm = run([
      '--input-type=module',
      '-e',
      script(`import { imageFolder } from ${JSON.stringify(join(packageRoot, 'dist', 'node.js'))};`),
    ]);
    const cjs = run([
      '-e',
      `(async () => { ${script(`const { imageFolder } = require(${JSON.stringify(join(packageRoot, 'dist', 'node.cjs'))});`)} })();`,
    ]);
    for (const out of [esm, cjs]) {
      expect(out.ids).toEqual(['b/1.png', 'a/0.png', 'a/1.png', 'b/0.png']);
      expect(Float32Array.from(out.x)).toEqual(expected.x);
    }
  }, 60_000);
});
