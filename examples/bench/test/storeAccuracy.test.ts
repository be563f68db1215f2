import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = existsSync(join(root, '../../packages/teacher-store/dist/node.js'));

describe.skipIf(!existsSync('/usr/share/datasets/fashion-mnist') || !built)('stored-teacher accuracy bench (--quick)', () => {
  it('distils from a float32 and a float16 store (and live), matches the live run bit for bit, reuses the cached teacher', () => {
    const work = mkdtempSync(join(tmpdir(), 'kd-store-accuracy-bench-'));
    const run = (out: string) => {
      execFileSync(
        process.execPath,
        ['--import', 'tsx', 'src/store/accuracy.ts', '--quick', '--teachers', join(work, 'teachers'), '--out', join(work, out)],
        { cwd: root, encoding: 'utf8' },
      );
      return JSON.parse(readFileSync(join(work, out, 'accuracy.json'), 'utf8'));
    };
    try {
      const result = run('a');
      expect(result.seeds).toHaveLength(1);
      const [s] = result.seeds;
      expect(s.seed).toBe(1);
      expect(s.teacher.loaded).toBe(false);
      expect(existsSync(join(work, 'teachers', 'teachers'))).toBe(true);
      // float16: rounded (not all equal), within half precision's 2^-11 relative error; float32: exact.
      expect(s.logits.float16VsFloat32.maxAbs).toBeGreaterThan(0);
      expect(s.logits.float16VsFloat32.maxRel).toBeLessThanOrEqual(2 ** -11);
      expect(s.logits.float32VsLive.maxAbs).toBe(0);
      expect(s.stores.float16.bytesPerExample).toBeLessThan(s.stores.float32.bytesPerExample - 19);
      for (const side of ['live', 'float32', 'float16']) {
        const r = s.runs[side];
        expect(r.steps).toBe(40);
        expect(r.description).toBe('Loss = 0.1*ce + 0.9*kd(T=2)');
        expect(r.weightsSha256).toMatch(/^[0-9a-f]{64}$/);
        for (const a of [r.lastTest, ...r.curve.map((p: { test: number }) => p.test)]) {
          expect(Number.isFinite(a)).toBe(true);
          expect(a).toBeGreaterThanOrEqual(0);
          expect(a).toBeLessThanOrEqual(1);
        }
      }
      // The float32 store gives the live teacher's run, bit for bit; float16 trains other weights.
      expect(result.liveMatch).toMatchObject({ seed: 1, testEqual: true, curveEqual: true, weightsEqual: true, logitsMaxAbs: 0 });
      expect(s.runs.float16.weightsSha256).not.toBe(s.runs.float32.weightsSha256);
      expect(result.summary.float16MinusFloat32.values).toEqual([s.runs.float16.lastTest - s.runs.float32.lastTest]);
      expect(result.summary.float32.values).toEqual([s.runs.float32.lastTest]);
      expect(result.uptime.start).toMatch(/load average/);
      const md = readFileSync(join(work, 'a', 'accuracy.md'), 'utf8');
      expect(md).toContain('| seed | teacher test (%) | live teacher (%) | float32 store (%) | float16 store (%) |');
      expect(md).toContain("student weights' SHA-256 equal");
      // A second run loads the teacher the first one trained and repeats its numbers.
      const again = run('b');
      expect(again.seeds[0].teacher.loaded).toBe(true);
      expect(again.seeds[0].teacher.test).toBe(s.teacher.test);
      expect(again.seeds[0].runs.float16.weightsSha256).toBe(s.runs.float16.weightsSha256);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
