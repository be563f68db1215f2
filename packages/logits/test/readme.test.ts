import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';

/**
 * The README's runnable snippet is test/readmeSnippet.ts, verbatim: this test checks that the
 * README's first `ts` block is that file, runs it (`@kd/*` resolve to the sources), and checks
 * what it prints against the comments the README shows.
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
    expect(printed[0]).toBe('Loss = 1*ce + 1*dkd(T=4, warm-up 20 epochs)');
    expect(printed[1]).toEqual([0.05, 0.1, 0.15]);
    const terms = printed[2] as Record<string, number>[];
    expect(terms).toHaveLength(3);
    for (const t of terms) expect(Number.isFinite(t['ce']) && Number.isFinite(t['dkd'])).toBe(true);
  });
});
