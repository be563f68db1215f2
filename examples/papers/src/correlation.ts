import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { classCorrelationDifference, renderSvg } from '@kd/cli';
import { atomicWriteFile } from '@kd/core/node';
import { FASHION_MNIST_CLASSES } from '@kd/data';
import { load, meanStd, SEEDS, type Size, writeReport } from './common';
import { CRD_ENSEMBLE_SIZES, type EnsembleArm, ensembleStudy } from './crdEnsemble';
import { logitsOf } from './crdShared';
import type { RunOptions } from './experiment';

// Experiment 6: CRD's analysis figure (Tian et al. 2020, Fig. 3), on the CRD-EN run's students.

/** Options of {@link runCorrelation}. */
export interface CorrelationOptions extends RunOptions {
  /**
   * The CRD-EN experiment's results folder whose students the figure analyses (trained there if
   * absent). Default: `crd-ensemble-<size>` beside `dir`, where the command line writes them.
   */
  readonly studentsDir?: string;
}

/** The students of the correlation figure: those of the CRD-EN run that learned from the best single teacher. */
export const CORRELATION_ARMS = ['scratch', 'kdBest', 'crdBest'] as const satisfies readonly EnsembleArm[];

/** What {@link runCorrelation} returns. */
export interface CorrelationResult {
  /** Mean |teacher − student| class correlation per arm, one value per seed. */
  readonly rows: readonly { arm: string; values: readonly number[]; mean: number; std: number }[];
  readonly table: string;
  /** The heatmaps (seed 1), also written to `<dir>/correlation.svg`. */
  readonly svg: string;
  readonly seconds: number;
  readonly load: string;
}

const CORRELATION_LABELS: Record<(typeof CORRELATION_ARMS)[number], string> = {
  scratch: 'student without distillation',
  kdBest: 'KD',
  crdBest: 'CRD',
};

/**
 * Experiment 6 (the CRD paper's Fig. 3): the difference between the best single teacher's and
 * each student's class-correlation matrices of the logits on the test set, for the scratch, KD and
 * CRD students of the CRD-EN experiment (taken from, or trained in, `options.studentsDir`). Writes
 * `<dir>/correlation.json`, `.md` (mean |Δ| per student over the seeds) and `correlation.svg`
 * (heatmaps of seed 1's Δ, vega-lite through `renderSvg`).
 */
export async function runCorrelation(size: Size, dir: string, options: CorrelationOptions = {}): Promise<CorrelationResult> {
  const studentsDir = options.studentsDir ?? join(dirname(dir), `crd-ensemble-${size}`);
  const started = performance.now();
  const before = load();
  const values = Object.fromEntries(CORRELATION_ARMS.map((a) => [a, [] as number[]])) as Record<
    (typeof CORRELATION_ARMS)[number],
    number[]
  >;
  const firstSeed: Partial<Record<(typeof CORRELATION_ARMS)[number], number[][]>> = {};
  await ensembleStudy(size, studentsDir, options, ({ seed, bestTeacher, students, test }) => {
    const teacherLogits = logitsOf(bestTeacher, test.x);
    for (const arm of CORRELATION_ARMS) {
      const d = classCorrelationDifference(teacherLogits, logitsOf(students[arm], test.x));
      values[arm].push(d.meanAbsoluteDifference);
      if (seed === SEEDS[0]) firstSeed[arm] = d.difference;
    }
  });
  const rows = CORRELATION_ARMS.map((a) => ({ arm: CORRELATION_LABELS[a], values: values[a], ...meanStd(values[a]) }));
  const svg = (await renderSvg(correlationChart(firstSeed as Record<(typeof CORRELATION_ARMS)[number], number[][]>, rows))).svg;
  mkdirSync(dir, { recursive: true });
  await atomicWriteFile(join(dir, 'correlation.svg'), svg);
  const config = CRD_ENSEMBLE_SIZES[size];
  const seconds = (performance.now() - started) / 1000;
  const markdown = [
    `| student (of the best single teacher) | mean abs. teacher − student class correlation, mean ± std | per seed |`,
    '|---|---:|---|',
    ...rows.map((r) => `| ${r.arm} | ${r.mean.toFixed(4)} ± ${r.std.toFixed(4)} | ${r.values.map((v) => v.toFixed(4)).join(' / ')} |`),
    '',
    `Size ${size}: logits on ${config.testSize} test examples; the students of crd-ensemble (${studentsDir}); seeds ${SEEDS.join(', ')}; ${seconds.toFixed(1)} s wall (training included where the folder had no finished students); ${before} at the start, ${load()} at the end. Heatmaps of seed ${SEEDS[0]}: correlation.svg.`,
  ].join('\n');
  await writeReport(dir, 'correlation', { size, studentsDir, seeds: SEEDS, rows, seconds, load: before }, markdown);
  return { rows, table: markdown, svg, seconds, load: before };
}

/**
 * The vega-lite spec of the correlation figure: one heatmap per student of `teacher − student`
 * class correlation, on one diverging colour scale centred at 0; the header of each gives its
 * mean |Δ| over the seeds.
 */
export function correlationChart(
  differences: Readonly<Record<(typeof CORRELATION_ARMS)[number], number[][]>>,
  rows: readonly { arm: string; mean: number; std: number }[],
): Parameters<typeof renderSvg>[0] {
  const names = FASHION_MNIST_CLASSES.map((n) => n.split('/')[0]!);
  const panels = CORRELATION_ARMS.map((_, i) => `${rows[i]!.arm}: mean |Δ| ${rows[i]!.mean.toFixed(3)} ± ${rows[i]!.std.toFixed(3)}`);
  const values = CORRELATION_ARMS.flatMap((a, p) =>
    differences[a].flatMap((r, i) => r.map((difference, j) => ({ student: panels[p]!, row: names[i]!, column: names[j]!, difference }))),
  );
  const bound = Math.max(1e-6, ...values.map((v) => Math.abs(v.difference)));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: 'Teacher − student class correlation of the logits (Fashion-MNIST test set)',
      subtitle: 'Pearson correlation of the logit columns; 0 = the student matches the teacher (CRD paper, Fig. 3)',
    },
    data: { values },
    facet: { column: { field: 'student', type: 'nominal', sort: panels, title: null } },
    spec: {
      width: { step: 22 },
      height: { step: 22 },
      mark: { type: 'rect' },
      encoding: {
        x: { field: 'column', type: 'ordinal', sort: names, title: 'class', axis: { labelAngle: -45 } },
        y: { field: 'row', type: 'ordinal', sort: names, title: 'class' },
        color: {
          field: 'difference',
          type: 'quantitative',
          title: 'teacher − student',
          scale: { scheme: 'redblue', reverse: true, domain: [-bound, bound], domainMid: 0 },
        },
      },
    },
  };
}
