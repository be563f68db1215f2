import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const crdDist = join(root, '../../packages/crd/dist/index.js');
// The bench runs on the built packages: @kd/crd's dist must have queue memory.
const built = existsSync(crdDist) && readFileSync(crdDist, 'utf8').includes('queueNegatives');

interface Run {
  variant: string;
  refused?: { code: string; message: string };
  memory: 'banks' | 'queue';
  negatives: number;
  description: string;
  stateBytes: number;
  memoryBytes: number;
  idBytes: number;
  lastTest: number | null;
  curve: { step: number; test: number }[];
  steps: number;
}

describe.skipIf(!existsSync('/usr/share/datasets/fashion-mnist') || !built)('CRD banks vs queue bench (--quick)', () => {
  it('writes memory and accuracy of the banks and of the queue at two K; the queue bytes do not grow with N, the banks do', () => {
    const work = mkdtempSync(join(tmpdir(), 'kd-crd-queue-bench-'));
    const run = (out: string, ...extra: string[]) => {
      execFileSync(
        process.execPath,
        ['--import', 'tsx', 'src/crdQueue/main.ts', '--quick', '--teachers', join(work, 'teachers'), '--out', join(work, out), ...extra],
        { cwd: root, encoding: 'utf8' },
      );
      return JSON.parse(readFileSync(join(work, out, 'crd-queue.json'), 'utf8'));
    };
    try {
      const result = run('a');
      const d = result.options.hyper.featureDim;
      const n = result.options.smallSize;
      expect(result.queueSizes).toEqual([32, 64]);
      expect(result.bankNegatives).toBe(Math.min(4096, n - 64 - 1));
      expect(result.seeds).toHaveLength(1);
      const runs: Run[] = result.seeds[0].runs;
      expect(runs.map((r) => r.variant)).toEqual(['banks', 'queue K=32', 'queue K=64']);
      expect(runs[0]!.description).toBe('Loss = 1*ce + 0.4*crd(shared)');
      expect(runs[1]!.description).toBe('Loss = 1*ce + 0.4*crd(queue)');
      // Banks: 2 N d floats; queues: 2 K d floats + K ids; the heads are the same in every variant.
      expect(runs[0]!.memoryBytes).toBe(2 * n * d * 4);
      expect(runs[0]!.idBytes).toBe(0);
      const heads = runs[0]!.stateBytes - runs[0]!.memoryBytes;
      expect(heads).toBeGreaterThan(0);
      for (const r of runs.slice(1)) {
        expect(r.memoryBytes).toBe(2 * r.negatives * d * 4);
        expect(r.stateBytes).toBe(r.memoryBytes + heads);
        expect(r.idBytes).toBe(4 * r.negatives);
        expect(r.stateBytes).toBeLessThan(runs[0]!.stateBytes);
      }
      for (const r of runs) {
        expect(r.curve).toHaveLength(2);
        expect(r.steps).toBe(r.curve[1]!.step);
        for (const a of [r.lastTest, ...r.curve.map((p) => p.test)]) {
          expect(Number.isFinite(a)).toBe(true);
          expect(a).toBeGreaterThanOrEqual(0);
          expect(a).toBeLessThanOrEqual(1);
        }
      }
      expect(result.summary.map((s: { variant: string }) => s.variant)).toEqual(runs.map((r) => r.variant));
      expect(result.summary[1].minusBanks.values).toEqual([runs[1]!.lastTest! - runs[0]!.lastTest!]);
      const md = readFileSync(join(work, 'a', 'crd-queue.md'), 'utf8');
      expect(md).toContain(
        '| variant | negatives | banks / queues (KiB) | CRD state (KiB) | queue ids (KiB) | test accuracy (%) | − banks (points) |',
      );
      expect(md).toContain('| queue K=64 | 64 |');

      // A transfer set 1.5x as large: the banks grow with it, the queues do not. A queue of K = N
      // is refused by @kd/crd before any step (too-many-negatives) and recorded as such, not clamped.
      const larger = run('b', '--small-size', String(n * 1.5), '--queue-sizes', `32,64,${n * 1.5}`);
      const runsB: Run[] = larger.seeds[0].runs;
      expect(runsB[0]!.memoryBytes).toBe(2 * n * 1.5 * d * 4);
      expect(runsB.slice(1, 3).map((r) => r.stateBytes)).toEqual(runs.slice(1).map((r) => r.stateBytes));
      const refused = runsB[3]!;
      expect(refused.variant).toBe(`queue K=${n * 1.5}`);
      expect(refused.refused?.code).toBe('too-many-negatives');
      expect(refused.refused?.message).toContain(`K = ${n * 1.5} must be smaller than the number of training examples N = ${n * 1.5}`);
      expect(refused.lastTest).toBeNull();
      expect(refused.curve).toEqual([]);
      expect(runsB.slice(0, 3).every((r) => r.refused === undefined && r.lastTest !== null)).toBe(true);
      expect(larger.summary[3].accuracy).toBeNull();
      expect(readFileSync(join(work, 'b', 'crd-queue.md'), 'utf8')).toContain(
        `| queue K=${n * 1.5} | ${n * 1.5} | (${((2 * n * 1.5 * d * 4) / 1024).toFixed(1)}) | — | — | refused: too-many-negatives (K = ${n * 1.5} >= N = ${n * 1.5}) | — |`,
      );
      expect(larger.seeds[0].teacher.loaded).toBe(true); // the first run's teacher, from the cache
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
