import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import * as tfl from '@tensorflow/tfjs-layers';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { expectOneEpochTrains, expectRefused } from '../test/helpers';
import { type ImageFolderOptions, type ImageFolderSource, imageFolder } from './imageFolder';

const dir = mkdtempSync(join(tmpdir(), 'kd-image-folder-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let folders = 0;
/** A fresh folder under the test's tmp dir with `files` (relative path -> bytes); folders made as needed. */
function folder(files: Record<string, Uint8Array | string>): string {
  const root = join(dir, `f${folders++}`);
  mkdirSync(root);
  for (const [path, bytes] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), bytes);
  }
  return root;
}

/**
 * A PNG written by hand (no sharp): `values` row-major, interleaved channels (1 grey, 2 grey +
 * alpha, 3 RGB, 4 RGBA), 8 or 16 bits per sample, filter 0, one IDAT chunk.
 */
function png(width: number, height: number, channels: 1 | 2 | 3 | 4, values: readonly number[], depth: 8 | 16 = 8): Uint8Array {
  const colourType = { 1: 0, 2: 4, 3: 2, 4: 6 }[channels];
  const bytesPerSample = depth / 8;
  const stride = 1 + width * channels * bytesPerSample;
  const raw = Buffer.alloc(height * stride);
  for (let row = 0; row < height; row++) {
    for (let i = 0; i < width * channels; i++) {
      const v = values[row * width * channels + i]!;
      if (depth === 8) raw[row * stride + 1 + i] = v;
      else raw.writeUInt16BE(v, row * stride + 1 + 2 * i);
    }
  }
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([head, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = depth;
  header[9] = colourType;
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A uniform RGB image encoded by sharp in `format`. */
function uniform(width: number, height: number, rgb: readonly [number, number, number], format: 'png' | 'jpeg' | 'webp'): Promise<Buffer> {
  const image = sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
  return (format === 'png' ? image.png() : format === 'jpeg' ? image.jpeg({ quality: 95 }) : image.webp({ lossless: true })).toBuffer();
}

/** The float32 value of an 8-bit sample, as the reader computes it. */
const f = (v: number) => Math.fround(v / 255);

async function withSource<T>(root: string, options: ImageFolderOptions, fn: (s: ImageFolderSource) => Promise<T>): Promise<T> {
  const source = await imageFolder(root, options);
  try {
    return await fn(source);
  } finally {
    await source.close();
  }
}

const all = (s: { size: number }) => Int32Array.from({ length: s.size }, (_, i) => i);

describe('imageFolder: layout', () => {
  it('classes are the sub-folders in code-point order; positions run class by class, files by relative path; hidden and other files ignored', async () => {
    const one = png(1, 1, 3, [1, 2, 3]);
    const root = folder({
      'dog/b.png': one,
      'dog/a.PNG': one, // extensions match case-insensitively
      'dog/notes.txt': 'ignored',
      'dog/.hidden.png': one,
      'cat/z/1.png': one, // a sub-folder of a class belongs to it
      'cat/y.png': one,
      'Zebra/1.png': one, // 'Z' (0x5a) sorts before 'c' (0x63)
      'éclair/1.png': one, // U+00E9 after ASCII
      '.git/1.png': one,
      'README.md': 'not a class',
      'loose.png': one,
    });
    await withSource(root, { size: 1, channels: 3 }, async (s) => {
      expect(s.classNames).toEqual(['Zebra', 'cat', 'dog', 'éclair']);
      expect(s.numClasses).toBe(4);
      expect(s.files).toEqual(['Zebra/1.png', 'cat/y.png', 'cat/z/1.png', 'dog/a.PNG', 'dog/b.png', 'éclair/1.png']);
      expect(Array.from(s.labels)).toEqual([0, 1, 1, 2, 2, 3]);
      expect(s.size).toBe(6);
      expect(s.exampleShape).toEqual([1, 1, 3]);
      expect(s.kind).toBe('kd-source');
      expect(s.description).toBe(`image folder "${root}"`);
      expect(s.skipped).toEqual([]);
      const { y, ids } = await s.read(Int32Array.of(4, 0));
      expect(Array.from(y)).toEqual([2, 0]);
      expect(ids).toEqual(['dog/b.png', 'Zebra/1.png']);
    });
    await withSource(root, { size: 1, channels: 3, name: 'train', extensions: ['.txt', '.png'] }, async (s) => {
      expect(s.description).toBe('image folder "train"');
      expect(s.files).toContain('dog/notes.txt');
      expect((await s.read(Int32Array.of(0))).ids).toEqual(['train:Zebra/1.png']);
    });
  });

  it('follows symbolic links to class folders and files, and does not loop on a link back up', async () => {
    const root = folder({ 'real/1.png': png(1, 1, 1, [7]) });
    symlinkSync(join(root, 'real'), join(root, 'linked'));
    symlinkSync(join(root, 'real', '1.png'), join(root, 'real', '2.png'));
    symlinkSync(root, join(root, 'real', 'loop'));
    await withSource(root, { size: 1, channels: 1, workers: 0 }, async (s) => {
      expect(s.classNames).toEqual(['linked', 'real']);
      // real/loop leads back to the root, whose folders were walked already: nothing more
      expect(s.files).toEqual(['linked/1.png', 'linked/2.png', 'real/1.png', 'real/2.png']);
      expect(Array.from((await s.read(Int32Array.of(0))).x)).toEqual([f(7)]);
    });
  });
});

describe('imageFolder: pixels', () => {
  it('PNG pixels exactly: RGB 2x2 not resized is each byte / 255, NHWC', async () => {
    const rgb = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30];
    const root = folder({
      'a/0.png': png(2, 2, 3, rgb),
      'a/1.png': png(
        2,
        2,
        3,
        rgb.map((v) => 255 - v),
      ),
    });
    await withSource(root, { size: 2, channels: 3, workers: 0 }, async (s) => {
      const { x } = await s.read(Int32Array.of(1, 0));
      expect(Array.from(x)).toEqual([...rgb.map((v) => f(255 - v)), ...rgb.map(f)]);
    });
  });

  it('[height, width] of a non-square image, alpha dropped (not composited), 16-bit reduced to 8 bits', async () => {
    // 3 wide, 2 high, RGBA with alpha 0 on some pixels: the colour stays, alpha goes.
    const rgba = [1, 2, 3, 0, 4, 5, 6, 255, 7, 8, 9, 128, 10, 11, 12, 0, 13, 14, 15, 1, 16, 17, 18, 255];
    const wide = [0, 65535, 32768, 1000, 257, 514]; // 2 x 1 RGB, 16 bits
    const root = folder({ 'a/rgba.png': png(3, 2, 4, rgba), 'b/16.png': png(1, 2, 3, wide, 16) });
    await withSource(root, { size: [2, 3], channels: 3, workers: 0 }, async (s) => {
      const { x } = await s.read(Int32Array.of(0));
      expect(Array.from(x)).toEqual(rgba.filter((_, i) => i % 4 !== 3).map(f));
    });
    await withSource(root, { size: [2, 1], channels: 3, workers: 0 }, async (s) => {
      const { x } = await s.read(Int32Array.of(1));
      expect(Array.from(x)).toEqual(wide.map((v) => f(v >> 8)));
    });
  });

  it('channels: grey files give 3 equal channels for 3; RGB files give sharp greyscale for 1 (equal R = G = B unchanged, pure red 127)', async () => {
    const grey = [0, 100, 200, 255];
    const greyAlpha = [0, 255, 100, 0, 200, 9, 255, 255];
    const greyRgb = [0, 0, 0, 100, 100, 100, 200, 200, 200, 255, 255, 255];
    const root = folder({
      'a/grey.png': png(2, 2, 1, grey),
      'a/greyAlpha.png': png(2, 2, 2, greyAlpha),
      'a/greyRgb.png': png(2, 2, 3, greyRgb),
      'a/red.png': png(2, 2, 3, [255, 0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0]),
    });
    await withSource(root, { size: 2, channels: 3, workers: 0 }, async (s) => {
      const { x } = await s.read(Int32Array.of(0, 1, 2)); // grey, greyAlpha, greyRgb
      const replicated = grey.flatMap((v) => [f(v), f(v), f(v)]);
      expect(Array.from(x)).toEqual([...replicated, ...replicated, ...greyRgb.map(f)]);
    });
    await withSource(root, { size: 2, channels: 1, workers: 0 }, async (s) => {
      expect(s.exampleShape).toEqual([2, 2, 1]);
      const { x } = await s.read(Int32Array.of(0, 1, 2, 3));
      expect(Array.from(x)).toEqual([...grey.map(f), ...grey.map(f), ...grey.map(f), f(127), f(127), f(127), f(127)]);
    });
  });

  it('resizing: mixed sizes and formats become [h, w, c] in [0, 1]; a uniform colour stays that colour (JPEG within its loss)', async () => {
    const colour = [12, 200, 99] as const;
    const root = folder({
      'a/big.png': await uniform(17, 9, colour, 'png'),
      'a/small.webp': await uniform(2, 3, colour, 'webp'),
      'b/photo.jpg': await uniform(40, 30, colour, 'jpeg'),
      'b/photo.jpeg': await uniform(5, 5, colour, 'jpeg'),
    });
    await withSource(root, { size: [4, 6], channels: 3, workers: 0 }, async (s) => {
      const { x } = await s.read(all(s));
      expect(x.length).toBe(4 * 4 * 6 * 3);
      for (let i = 0; i < x.length; i++) {
        const image = Math.floor(i / 72);
        const expected = f(colour[i % 3]!);
        if (image < 2)
          expect(x[i]).toBe(expected); // PNG and lossless WebP
        else expect(Math.abs(x[i]! - expected)).toBeLessThanOrEqual(3 / 255);
      }
    });
  });
});

describe('imageFolder: reads and workers', () => {
  const mixed = async () => {
    const files: Record<string, Uint8Array> = {};
    for (let i = 0; i < 10; i++) {
      const values = Array.from({ length: (3 + i) * (2 + (i % 3)) * 3 }, (_, k) => (k * 37 + i * 11) % 256);
      files[`c${i % 3}/${i}.png`] = png(3 + i, 2 + (i % 3), 3, values);
    }
    files['c0/photo.jpg'] = await sharp(
      png(
        9,
        7,
        3,
        Array.from({ length: 189 }, (_, k) => (k * 13) % 256),
      ),
    )
      .jpeg()
      .toBuffer();
    files['c1/photo.webp'] = await sharp(
      png(
        6,
        5,
        3,
        Array.from({ length: 90 }, (_, k) => (k * 29) % 256),
      ),
    )
      .webp()
      .toBuffer();
    files['c2/grey.png'] = png(
      4,
      4,
      1,
      Array.from({ length: 16 }, (_, k) => k * 16),
    );
    return folder(files);
  };

  it('positions in any order with repeats give the same bytes as one-by-one reads; workers 0, 1 and 3 give identical bytes', async () => {
    const root = await mixed();
    const positions = Int32Array.of(12, 0, 5, 5, 3, 11, 0, 7, 1, 12, 9, 2, 4, 6, 8, 10);
    const reads: Float32Array[] = [];
    for (const workers of [0, 1, 3]) {
      await withSource(root, { size: [5, 4], channels: 3, workers }, async (s) => {
        expect(s.size).toBe(13);
        const batch = await s.read(positions);
        expect(batch.x.length).toBe(positions.length * 60);
        expect(Array.from(batch.y)).toEqual(Array.from(positions, (p) => s.labels[p]!));
        expect(batch.ids).toEqual(Array.from(positions, (p) => s.files[p]!));
        for (const v of batch.x) expect(v >= 0 && v <= 1).toBe(true);
        reads.push(batch.x);
        if (workers === 1) {
          for (let b = 0; b < positions.length; b++) {
            const single = await s.read(positions.subarray(b, b + 1));
            expect(single.x).toEqual(batch.x.subarray(b * 60, (b + 1) * 60));
          }
        }
      });
    }
    expect(Buffer.from(reads[1]!.buffer)).toEqual(Buffer.from(reads[0]!.buffer));
    expect(Buffer.from(reads[2]!.buffer)).toEqual(Buffer.from(reads[0]!.buffer));
  });

  it('the first read starts one pool for all its chunks, and close() stops every worker thread', async () => {
    const root = await mixed();
    const threads = () => (process.report.getReport() as { workers: unknown[] }).workers.length;
    const baseline = threads();
    const s = await imageFolder(root, { size: 2, channels: 3, workers: 3 });
    await s.read(Int32Array.from({ length: 12 }, (_, i) => i));
    expect(threads()).toBeGreaterThan(baseline);
    await s.close();
    expect(threads()).toBe(baseline);
  });

  it('an empty read, and reads after close() (a new pool)', async () => {
    const root = await mixed();
    const s = await imageFolder(root, { size: 2, channels: 1, workers: 2 });
    const empty = await s.read(new Int32Array(0));
    expect([empty.x.length, empty.y.length, empty.ids.length]).toEqual([0, 0, 0]);
    const first = await s.read(Int32Array.of(3, 1));
    await s.close();
    await s.close(); // twice is fine
    expect((await s.read(Int32Array.of(3, 1))).x).toEqual(first.x);
    await s.close();
  });

  it('trains a student for one epoch through Distiller.fit', async () => {
    const root = await mixed();
    const student = tfl.sequential({
      layers: [
        tfl.layers.flatten({ inputShape: [4, 4, 3] }),
        tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }),
      ],
    });
    await withSource(root, { size: 4, channels: 3 }, (s) => expectOneEpochTrains(student, s));
    student.dispose();
  });
});

describe('imageFolder: bad files', () => {
  const good = png(
    2,
    2,
    3,
    Array.from({ length: 12 }, (_, k) => k * 20),
  );
  const truncated = good.subarray(0, good.length - 20); // header intact, pixel data cut
  const corrupt = Uint8Array.from({ length: 64 }, (_, k) => (k * 7 + 3) % 256);

  it("onBadFile 'error': the batch holding a corrupt file throws image-decode-failed naming it (relative and absolute path); others read", async () => {
    const root = folder({ 'a/0.png': good, 'a/1.png': corrupt, 'b/0.png': good, 'b/1.png': truncated });
    for (const workers of [0, 1, 2]) {
      await withSource(root, { size: 2, channels: 3, workers }, async (s) => {
        expect(s.size).toBe(4); // nothing is opened up front
        expect((await s.read(Int32Array.of(0, 2))).x.length).toBe(24);
        // the first bad file in batch order is named: position 3 (b/1.png) before 1 (a/1.png)
        const error = await expectRefused(() => s.read(Int32Array.of(2, 3, 0, 1)), 'image-decode-failed', 'b/1.png');
        expect(error.message).toContain(join(root, 'b', '1.png'));
        await expectRefused(
          () => s.read(Int32Array.of(1)),
          'image-decode-failed',
          /a\/1\.png \(.*a\/1\.png\) in image folder .* does not decode: /,
        );
      });
    }
  });

  it('a file deleted after the listing is an io-error naming it', async () => {
    const root = folder({ 'a/0.png': good, 'a/1.png': good });
    await withSource(root, { size: 2, channels: 3 }, async (s) => {
      unlinkSync(join(root, 'a', '1.png'));
      const error = await expectRefused(() => s.read(Int32Array.of(0, 1)), 'io-error', 'a/1.png');
      expect(error.message).toContain('ENOENT');
      expect(error.message).toContain(join(root, 'a', '1.png'));
    });
  });

  it("onBadFile 'skip': files failing the header probe are left out (dense positions) and named; a truncated file that passes still errors", async () => {
    const root = folder({
      'a/0.png': good,
      'a/1.png': corrupt,
      'a/2.png': new Uint8Array(0),
      'b/0.png': truncated,
      'b/1.png': good,
      'c/only.png': corrupt, // a class with no readable file keeps its label
    });
    await withSource(root, { size: 2, channels: 3, onBadFile: 'skip' }, async (s) => {
      expect(s.classNames).toEqual(['a', 'b', 'c']);
      expect(s.numClasses).toBe(3);
      expect(s.files).toEqual(['a/0.png', 'b/0.png', 'b/1.png']);
      expect(Array.from(s.labels)).toEqual([0, 1, 1]);
      expect(s.size).toBe(3);
      expect(s.skipped.map((k) => k.file)).toEqual(['a/1.png', 'a/2.png', 'c/only.png']);
      for (const k of s.skipped) expect(k.reason.length).toBeGreaterThan(0);
      expect((await s.read(Int32Array.of(2, 0))).ids).toEqual(['b/1.png', 'a/0.png']);
      await expectRefused(() => s.read(Int32Array.of(1)), 'image-decode-failed', 'passed the header probe');
    });
    const bad = folder({ 'a/1.png': corrupt, 'b/1.png': corrupt });
    await expectRefused(() => imageFolder(bad, { size: 2, channels: 3, onBadFile: 'skip' }), 'image-all-skipped', 'every one of the 2');
  });
});

describe('imageFolder: refused before any decoding', () => {
  const one = png(1, 1, 3, [1, 2, 3]);
  const ok = { size: 2, channels: 3 } as const;

  it('bad options: unknown key (did you mean), size, channels, workers, extensions, sharpConcurrency without workers', async () => {
    const root = folder({ 'a/1.png': one });
    const cases: [unknown, string, string][] = [
      [{ size: 2, chanels: 3 }, 'unknown-option', 'did you mean "channels"'],
      [{ channels: 3 }, 'bad-option', 'option "size"'],
      [{ size: 0, channels: 3 }, 'bad-option', 'option "size"'],
      [{ size: [2, 2.5], channels: 3 }, 'bad-option', 'option "size'],
      [{ size: 2, channels: 2 }, 'bad-option', 'option "channels" must be 1 or 3'],
      [{ ...ok, workers: -1 }, 'bad-option', 'option "workers" must be >= 0'],
      [{ ...ok, onBadFile: 'ignore' }, 'bad-option', 'option "onBadFile"'],
      [{ ...ok, extensions: ['png'] }, 'bad-option', 'like ".png"'],
      [{ ...ok, extensions: [] }, 'bad-option', 'option "extensions"'],
      [{ ...ok, workers: 0, sharpConcurrency: 2 }, 'bad-option', 'sharp.concurrency(2)'],
    ];
    for (const [options, code, fragment] of cases) {
      await expectRefused(() => imageFolder(root, options as ImageFolderOptions), code, fragment);
    }
    await expectRefused(() => imageFolder('' as string, ok), 'bad-option', 'root must be a non-empty path');
  });

  it('root missing (io-error), not a directory, without class folders, classes duplicated by normalisation', async () => {
    await expectRefused(() => imageFolder(join(dir, 'missing'), ok), 'io-error', 'ENOENT');
    const file = join(dir, 'file.png');
    writeFileSync(file, one);
    await expectRefused(() => imageFolder(file, ok), 'image-root-not-directory', 'is not a directory');
    await expectRefused(
      () => imageFolder(folder({ '1.png': one, '2.jpg': one, 'x.txt': 'x' }), ok),
      'image-no-classes',
      '2 image files lie directly',
    );
    await expectRefused(() => imageFolder(folder({ '.hidden/1.png': one }), ok), 'image-no-classes', 'one folder per class');
    const nfc = 'caf\u00e9';
    const nfd = 'cafe\u0301';
    await expectRefused(
      () => imageFolder(folder({ [`${nfc}/1.png`]: one, [`${nfd}/1.png`]: one }), ok),
      'image-duplicate-class',
      'normalisation',
    );
  });

  it('no image at all (naming what was ignored), an empty class folder (naming it)', async () => {
    await expectRefused(
      () => imageFolder(folder({ 'a/1.gif': one, 'a/2.txt': 'x', 'b/3.txt': 'x', 'b/.4.png': one }), ok),
      'image-no-images',
      'other files ignored: 2 .txt, 1 .gif',
    );
    const root = folder({ 'a/1.png': one, 'c/1.txt': 'x' });
    mkdirSync(join(root, 'b'));
    await expectRefused(() => imageFolder(root, ok), 'image-empty-class', 'class folders "b", "c" in');
  });

  it('read: positions outside [0, N) or not an Int32Array are bad-indices', async () => {
    await withSource(folder({ 'a/1.png': one }), ok, async (s) => {
      await expectRefused(() => s.read(Int32Array.of(0, 1)), 'bad-indices', 'position 1 is 1, not an example position in [0, 1)');
      await expectRefused(() => s.read([0] as unknown as Int32Array), 'bad-indices', 'Int32Array');
    });
  });
});

describe('imageFolder: fingerprint (file list, sizes, mtimes)', () => {
  it('is stable for an unchanged folder and changes with a touched, resized, added or moved file and with the decode settings', async () => {
    const grey = (v: number) => png(2, 2, 1, [v, v, v, v]);
    const root = folder({ 'a/1.png': grey(10), 'a/2.png': grey(20), 'b/3.png': grey(30) });
    const print = (options: ImageFolderOptions = { size: 2, channels: 1, workers: 0 }) =>
      withSource(root, options, (s) => s.fingerprint!());
    const first = await print();
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(await print()).toBe(first);
    // Other decode settings or id prefix: other content.
    expect(await print({ size: 3, channels: 1, workers: 0 })).not.toBe(first);
    expect(await print({ size: 2, channels: 3, workers: 0 })).not.toBe(first);
    expect(await print({ size: 2, channels: 1, workers: 0, name: 'train' })).not.toBe(first);
    // A touched file (same bytes, new mtime).
    utimesSync(join(root, 'a/1.png'), new Date(2020, 0, 1), new Date(2020, 0, 1));
    const touched = await print();
    expect(touched).not.toBe(first);
    // Rewritten with other bytes of another size.
    writeFileSync(join(root, 'a/2.png'), png(2, 2, 1, [1, 2, 3, 250]));
    utimesSync(join(root, 'a/2.png'), new Date(2020, 0, 1), new Date(2020, 0, 1));
    const rewritten = await print();
    expect(rewritten).not.toBe(touched);
    // Moved to another class (same bytes and mtime).
    mkdirSync(join(root, 'b'), { recursive: true });
    renameSync(join(root, 'a/2.png'), join(root, 'b/2.png'));
    const moved = await print();
    expect(moved).not.toBe(rewritten);
    // Added.
    writeFileSync(join(root, 'b/4.png'), grey(40));
    expect(await print()).not.toBe(moved);
  });
});
