import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = existsSync(join(root, '../../packages/teacher-store/dist/node.js'));

describe.skipIf(!existsSync('/usr/share/datasets/fashion-mnist') || !built)('stored-teacher bench (--quick)', () => {
  it('precomputes the stores, times live and stored epochs interleaved, and writes JSON and markdown', () => {
    const out = mkdtempSync(join(tmpdir(), 'kd-store-bench-'));
    try {
      execFileSync(process.execPath, ['--import', 'tsx', 'src/store/main.ts', '--quick', '--out', out], { cwd: root, encoding: 'utf8' });
      const result = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
      expect(result.examples).toBe(256);
      for (const side of ['cnn live', 'cnn stored', 'ensemble live', 'ensemble stored']) {
        expect(result.times[side]).toHaveLength(2);
        for (const t of result.times[side]) expect(t).toBeGreaterThan(0);
      }
      expect(result.stores['cnn-float16'].bytesPerExample).toBeLessThan(result.stores['cnn-float32'].bytesPerExample - 19);
      expect(readFileSync(join(out, 'results.md'), 'utf8')).toContain('| cnn stored |');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
