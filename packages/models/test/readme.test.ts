import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';

/**
 * The README's runnable snippet is test/readmeSnippet.ts, verbatim: this test checks that the
 * README's first `ts` block is that file, runs it (`@kd/*` resolve to the sources), and checks
 * that what it prints is what the README's comments say, and what the architecture implies.
 */
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const snippet = readFileSync(new URL('./readmeSnippet.ts', import.meta.url), 'utf8');

afterEach(() => {
  vi.restoreAllMocks();
});

describe('README', () => {
  it('shows test/readmeSnippet.ts as its first ts block', () => {
    const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBe(snippet);
  });

  it('the snippet runs and prints what its comments say', async () => {
    const printed: unknown[] = [];
    vi.spyOn(console, 'log').mockImplementation((value: unknown) => void printed.push(value));
    await import('./readmeSnippet');
    const comments = [...snippet.matchAll(/console\.log\(.*\); \/\/ (\[.*?\])/g)].map((m) => m[1]);
    expect(printed.map((value) => inspect(value, { breakLength: Infinity }))).toEqual(comments);
    // conv 3x3 (+bias), two 2x2 pools of 28x28, dense, logits.
    const params = (c1: number, c2: number, d: number) => 9 * c1 + c1 + 9 * c1 * c2 + c2 + 7 * 7 * c2 * d + d + d * 10 + 10;
    expect(printed[0]).toEqual([params(32, 64, 128), params(8, 16, 32)]);
  });
});
