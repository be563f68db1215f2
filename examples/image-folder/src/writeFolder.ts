import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabeledSource } from '@kd/data';
import sharp from 'sharp';

/** The folder name of each Fashion-MNIST class: its label first, so name order is label order. */
export function classFolder(label: number, name: string): string {
  return `${label}-${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
}

/**
 * Writes the first `count` examples of an IDX-backed source as greyscale PNG files,
 * `root/<label>-<class>/<index>.png` (the layout of torchvision's ImageFolder), and a marker
 * written last; a complete folder of the same count is reused.
 */
export async function writeImageFolder(source: LabeledSource, classNames: readonly string[], root: string, count: number): Promise<number> {
  const marker = join(root, '.complete.json');
  if (existsSync(marker) && (JSON.parse(readFileSync(marker, 'utf8')) as { count: number }).count === count) return 0;
  classNames.forEach((name, label) => mkdirSync(join(root, classFolder(label, name)), { recursive: true }));
  const [h, w] = source.exampleShape as [number, number, number];
  for (let start = 0; start < count; start += 256) {
    const positions = Int32Array.from({ length: Math.min(256, count - start) }, (_, i) => start + i);
    const { x, y } = await source.read(positions);
    await Promise.all(
      Array.from(positions, async (p, i) => {
        const pixels = Buffer.alloc(h * w);
        for (let j = 0; j < h * w; j++) pixels[j] = Math.round(x[i * h * w + j]! * 255);
        const png = await sharp(pixels, { raw: { width: w, height: h, channels: 1 } })
          .png()
          .toBuffer();
        writeFileSync(join(root, classFolder(y[i]!, classNames[y[i]!]!), `${String(p).padStart(5, '0')}.png`), png);
      }),
    );
  }
  writeFileSync(marker, JSON.stringify({ count }));
  return count;
}
