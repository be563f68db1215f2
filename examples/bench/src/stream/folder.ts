import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SeededRandom } from '@kd/core';
import sharp from 'sharp';

/** What {@link writeSyntheticFolder} wrote (kept in `<root>/.complete.json`; a folder is reused when it matches). */
export interface SyntheticFolder {
  readonly root: string;
  readonly count: number;
  readonly size: number;
  readonly classes: number;
  readonly seconds: number;
}

/**
 * Writes `count` PNG images of `size` x `size` x 3 into `root/class_<k>/<i>.png`, `classes`
 * classes in turn: each class is a colour and a stripe direction, with seeded noise, so a CNN
 * can learn it. Reuses a complete folder of the same shape (the marker file is written last).
 */
export async function writeSyntheticFolder(root: string, count: number, size = 32, classes = 10, seed = 1): Promise<SyntheticFolder> {
  const marker = join(root, '.complete.json');
  if (existsSync(marker)) {
    const done = JSON.parse(readFileSync(marker, 'utf8')) as SyntheticFolder;
    if (done.count === count && done.size === size && done.classes === classes) return done;
  }
  const started = Date.now();
  for (let k = 0; k < classes; k++) mkdirSync(join(root, `class_${String(k).padStart(2, '0')}`), { recursive: true });
  const write = async (i: number) => {
    const k = i % classes;
    const random = SeededRandom.keyed(seed, 'image', i);
    const pixels = Buffer.alloc(size * size * 3);
    const hue = [(k * 53) % 256, (k * 97 + 40) % 256, (k * 151 + 80) % 256];
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const stripe = ((k % 2 === 0 ? x : y) + (k >> 1) * 2) % 8 < 4 ? 1 : 0.4;
        for (let c = 0; c < 3; c++) {
          const v = hue[c]! * stripe + (random.next() - 0.5) * 90;
          pixels[(y * size + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
        }
      }
    }
    const png = await sharp(pixels, { raw: { width: size, height: size, channels: 3 } })
      .png()
      .toBuffer();
    writeFileSync(join(root, `class_${String(k).padStart(2, '0')}`, `${String(i).padStart(7, '0')}.png`), png);
  };
  const parallel = 8;
  for (let start = 0; start < count; start += parallel * 64) {
    const jobs: Promise<void>[] = [];
    for (let i = start; i < Math.min(count, start + parallel * 64); i++) jobs.push(write(i));
    await Promise.all(jobs);
  }
  const done: SyntheticFolder = { root, count, size, classes, seconds: (Date.now() - started) / 1000 };
  writeFileSync(marker, JSON.stringify(done));
  return done;
}
