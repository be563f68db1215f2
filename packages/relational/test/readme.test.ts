import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, vi } from 'vitest';
import './helpers'; // the cpu backend, for tf.memory() before the snippet runs

const packageRoot = fileURLToPath(new URL('..', import.meta.url));

/** The fenced ```ts blocks of the README, in order. */
function snippets(): string[] {
  const readme = readFileSync(join(packageRoot, 'README.md'), 'utf8');
  return [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

describe('README', () => {
  it('the snippet runs as written, prints the Distiller it describes, and leaves no tensor behind', async () => {
    const [snippet] = snippets();
    expect(snippet).toContain("from '@kd/relational'");
    // Inside the package (its node_modules resolve the imports; the folder is git-ignored).
    const dir = join(packageRoot, 'node_modules', '.cache', 'readme-snippet');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `snippet-${process.pid}.ts`);
    writeFileSync(file, snippet!);
    const printed: unknown[][] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void printed.push(args));
    const before = tf.memory().numTensors;
    try {
      await import(/* @vite-ignore */ file);
    } finally {
      log.mockRestore();
      rmSync(file, { force: true });
    }
    const described = /console\.log\(distiller\.describe\(\)\); \/\/ (.*)/.exec(snippet!)![1];
    expect(printed[0]).toEqual([described]);
    const terms = printed[1]![0] as Record<string, number>[];
    expect(terms).toHaveLength(2);
    for (const epoch of terms) {
      expect(Object.keys(epoch).sort()).toEqual(['cc', 'ce', 'kd', 'pkt', 'rkd', 'sp']);
      expect(Object.values(epoch).every(Number.isFinite)).toBe(true);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
