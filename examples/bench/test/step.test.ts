import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('step bench (--quick, no PyTorch side)', () => {
  it('times cached Distiller steps, and them alternating with the hand-written loop, counts kernels, and writes JSON and markdown', () => {
    const out = mkdtempSync(join(tmpdir(), 'kd-step-bench-'));
    try {
      execFileSync(process.execPath, ['--import', 'tsx', 'src/step/main.ts', '--quick', '--peer', 'none', '--out', out], {
        cwd: root,
        encoding: 'utf8',
      });
      const result = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
      const rows = Object.fromEntries(result.rows.map((r: { what: string }) => [r.what, r]));
      for (const what of ['cnn-kd', 'mlp-kd']) {
        const row = rows[what];
        expect(row.distiller).toHaveLength(2);
        // The overhead's paired reps: a median and a mean step of each side per rep.
        for (const key of ['loop', 'pairedDistiller', 'loopMean', 'pairedDistillerMean', 'loopCpu', 'pairedDistillerCpu']) {
          expect(row[key], key).toHaveLength(2);
        }
        for (const t of [...row.distiller, ...row.loop, ...row.pairedDistiller, ...row.loopMean, ...row.pairedDistillerMean]) {
          expect(t).toBeGreaterThan(0);
        }
        // The Distiller's step runs the loop's kernels (its weighted total and its read of the terms
        // add none; the fit's own checks, ~5 kernels once per fit, are spread over the 4 quick steps),
        // and the fused losses keep both well under 100.
        expect(row.kernelsPerStep).toBeGreaterThan(40);
        expect(row.kernelsPerStep).toBeLessThanOrEqual(row.loopKernelsPerStep + 2);
        expect(row.loopKernelsPerStep).toBeLessThan(100);
        expect(row.kernels.KdSoftTargetLoss).toBe(1);
        expect(row.kernels.KdHardLabelLossGrad).toBe(1);
        // Lean tape saves: no Identity kernel per saved tensor.
        expect(row.kernels.Identity ?? 0).toBeLessThan(5);
      }
      expect(rows['teacher forward'].teacher).toHaveLength(2);
      expect(readFileSync(join(out, 'results.md'), 'utf8')).toContain('| MLP student KD step (cached teacher) |');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
