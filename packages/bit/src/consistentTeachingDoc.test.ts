/**
 * Runs the snippet of docs/consistent-teaching.md as written there: its TypeScript is stripped of
 * types with esbuild, its imports are bound to the workspace's modules (the sources, as every test
 * here), and its output is checked.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as kdCore from '@kd/core';
import * as kdData from '@kd/data';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { transform } from 'esbuild';
import { describe, expect, it } from 'vitest';
import '../test/helpers';
import * as kdBit from './index';

const doc = fileURLToPath(new URL('../../../docs/consistent-teaching.md', import.meta.url));

/** The modules a docs snippet may import. */
const modules: Record<string, unknown> = {
  '@kd/core': kdCore,
  '@kd/data': kdData,
  '@kd/bit': kdBit,
  '@tensorflow/tfjs-core': tf,
  '@tensorflow/tfjs-layers': tfl,
  '@tensorflow/tfjs-backend-cpu': {}, // registered by the test helpers
};

/** The body of an async function equivalent to the module `source` (imports bound to {@link modules}). */
function bindImports(source: string): string {
  return source.replace(/^import\s+(?:(\* as \w+|\{[^}]*\})\s+from\s+)?'([^']+)';$/gm, (_line, what: string | undefined, from: string) => {
    if (!(from in modules)) throw new Error(`docs snippet imports "${from}", which the test does not provide`);
    const module = `__modules[${JSON.stringify(from)}]`;
    if (!what) return '';
    if (what.startsWith('* as ')) return `const ${what.slice(5)} = ${module};`;
    for (const name of what
      .slice(1, -1)
      .split(',')
      .map((n) => n.trim())
      .filter(Boolean)) {
      if (!(name in (modules[from] as object))) throw new Error(`docs snippet imports "${name}" from "${from}", which does not export it`);
    }
    return `const ${what} = ${module};`;
  });
}

describe('docs/consistent-teaching.md', () => {
  it('its snippet runs as written: distils with augment + mixup + KL, the teacher cache off, leaving no tensor behind', async () => {
    const text = readFileSync(doc, 'utf8');
    const blocks = [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks).toHaveLength(1);
    const { code } = await transform(bindImports(blocks[0]!), { loader: 'ts', format: 'esm', target: 'es2022' });
    expect(code).not.toMatch(/^import /m);
    const lines: unknown[][] = [];
    const console = { log: (...args: unknown[]) => void lines.push(args) };
    const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (
      ...args: string[]
    ) => (...values: unknown[]) => Promise<void>;
    const before = tf.memory().numTensors;
    await new AsyncFunction('__modules', 'console', code)(modules, console);
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.getBackend()).toBe('cpu');
    // fit-start: the description and the teacher cache, inactive because the transforms change the teacher's input.
    expect(lines[0]![0]).toBe('Loss = 1*kd(T=1)');
    const cache = lines[0]![1] as { active: boolean; reason?: string };
    expect(cache.active).toBe(false);
    expect(cache.reason).toMatch(/augment|mixup/);
    // The KL term of each of the 4 epochs.
    const kd = lines[1]![0] as number[];
    expect(kd).toHaveLength(4);
    for (const v of kd) {
      expect(Number.isFinite(v)).toBe(true);
      expect(v).toBeGreaterThanOrEqual(0);
    }
  });
});
