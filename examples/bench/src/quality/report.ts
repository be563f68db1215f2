import { renderSvg } from '@kd/cli';
import { BASELINE_METHODS, baselineOf, type Method, type Pair, type QualityResult, type Regime, type RunRecord } from './run';

/** A vega-lite spec, as `@kd/cli`'s `renderSvg` takes it. */
type TopLevelSpec = Parameters<typeof renderSvg>[0];

export function meanStd(values: readonly number[]): { mean: number; std: number } {
  const mean = values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
  const variance = values.length > 1 ? values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1) : 0;
  return { mean, std: Math.sqrt(variance) };
}

const pct = (v: { mean: number; std: number }) => `${(v.mean * 100).toFixed(2)} ± ${(v.std * 100).toFixed(2)}`;

export interface Summary {
  readonly pair: Pair;
  readonly regime: Regime;
  readonly method: Method;
  readonly seeds: number;
  readonly lastTest: { mean: number; std: number };
  readonly bestTest: { mean: number; std: number };
  readonly selectedTest: { mean: number; std: number };
  /** (method - scratch) / (teacher - scratch) of last-epoch test accuracy, per seed, then mean ± std. */
  readonly gapClosed: { mean: number; std: number };
  readonly gapClosedBest: { mean: number; std: number };
  readonly trainSeconds: { mean: number; std: number };
  readonly samplesPerSecond: { mean: number; std: number };
}

export function summarize(result: QualityResult): Summary[] {
  const teacherOf = new Map(result.teachers.map((t) => [t.seed, t.test]));
  const out: Summary[] = [];
  const groups = new Map<string, RunRecord[]>();
  for (const r of result.runs) {
    const key = `${r.pair}|${r.regime}|${r.method}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  for (const [key, runs] of groups) {
    const [pair, regime, method] = key.split('|') as [Pair, Regime, Method];
    const gap = (pick: (r: RunRecord) => number) =>
      runs.flatMap((r) => {
        const base = baselineOf(method);
        const scratch = result.runs.find((s) => s.seed === r.seed && s.pair === pair && s.regime === regime && s.method === base);
        const teacher = teacherOf.get(r.seed);
        if (!scratch || teacher === undefined || teacher === pick(scratch)) return [];
        return [(pick(r) - pick(scratch)) / (teacher - pick(scratch))];
      });
    out.push({
      pair,
      regime,
      method,
      seeds: runs.length,
      lastTest: meanStd(runs.map((r) => r.lastTest)),
      bestTest: meanStd(runs.map((r) => r.bestTest)),
      selectedTest: meanStd(runs.map((r) => r.selectedTest)),
      gapClosed: meanStd(gap((r) => r.lastTest)),
      gapClosedBest: meanStd(gap((r) => r.bestTest)),
      trainSeconds: meanStd(runs.map((r) => r.trainSeconds)),
      samplesPerSecond: meanStd(runs.map((r) => r.samplesPerSecond)),
    });
  }
  return out;
}

export function markdown(result: QualityResult): string {
  const s = summarize(result);
  const teachers = result.teachers;
  const t = meanStd(teachers.map((x) => x.test));
  const lines = [
    `Teacher (${result.options.sizes.teacher.join('-')}, ${result.options.teacherEpochs} epochs on ${result.options.trainSize} examples): test ${pct(t)} % over ${teachers.length} seed(s) (${teachers.map((x) => `${(x.test * 100).toFixed(2)}`).join(', ')}).`,
    '',
    '| pair | regime | method | seeds | test acc. last (%) | test acc. best (%) | test acc. at best val. (%) | gap closed, last (%) | gap closed, best (%) | train s | samples/s |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of s) {
    const gap = BASELINE_METHODS.includes(r.method) ? '—' : pct(r.gapClosed);
    const gapBest = BASELINE_METHODS.includes(r.method) ? '—' : pct(r.gapClosedBest);
    lines.push(
      `| ${r.pair} | ${r.regime} | ${r.method} | ${r.seeds} | ${pct(r.lastTest)} | ${pct(r.bestTest)} | ${pct(r.selectedTest)} | ${gap} | ${gapBest} | ${r.trainSeconds.mean.toFixed(1)} | ${r.samplesPerSecond.mean.toFixed(0)} |`,
    );
  }
  const omitted = result.runs.filter((r) => r.omitted);
  if (omitted.length > 0) lines.push('', ...omittedMarkdown(omitted));
  return lines.join('\n');
}

/** Regime (iii): accuracy on the class the transfer set lacked, before and after the bias correction. */
function omittedMarkdown(runs: readonly RunRecord[]): string[] {
  const c = runs[0]!.omitted!.omittedClass;
  const lines = [
    `Omitted class ${c} (the students never saw it; its logit bias is raised by an amount picked on the validation split):`,
    '',
    `| pair | method | seeds | test acc. (%) | class ${c} right | bias picked | test acc. after (%) | class ${c} right after |`,
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  const groups = new Map<string, RunRecord[]>();
  for (const r of runs) groups.set(`${r.pair}|${r.method}`, [...(groups.get(`${r.pair}|${r.method}`) ?? []), r]);
  for (const [key, group] of groups) {
    const [pair, method] = key.split('|');
    const o = group.map((r) => r.omitted!);
    const right = (pick: (x: (typeof o)[number]) => number) => `${meanStd(o.map(pick)).mean.toFixed(0)} / ${o[0]!.classExamples}`;
    lines.push(
      `| ${pair} | ${method} | ${group.length} | ${pct(meanStd(o.map((x) => x.testBefore)))} | ${right((x) => x.classCorrectBefore)} | ${o.map((x) => x.bias).join(', ')} | ${pct(meanStd(o.map((x) => x.testAfter)))} | ${right((x) => x.classCorrectAfter)} |`,
    );
  }
  return lines;
}

/** Mean test-accuracy curve per method (one chart per pair x regime), drawn with vega-lite. */
export async function curvesSvg(result: QualityResult, pair: Pair, regime: Regime): Promise<string> {
  const runs = result.runs.filter((r) => r.pair === pair && r.regime === regime);
  const methods = [...new Set(runs.map((r) => r.method))];
  const values = methods.flatMap((method) => {
    const mine = runs.filter((r) => r.method === method);
    return mine[0]!.curve.map((p, i) => ({ method, step: p.step, accuracy: meanStd(mine.map((r) => r.curve[i]!.test)).mean }));
  });
  const teacher = meanStd(result.teachers.map((t) => t.test)).mean;
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `Fashion-MNIST, ${pair} student, ${regime} regime: test accuracy (mean of ${result.options.seeds.length} seeds)`,
    width: 460,
    height: 300,
    layer: [
      {
        data: { values },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'step', type: 'quantitative', title: 'student steps' },
          y: { field: 'accuracy', type: 'quantitative', title: 'test accuracy', axis: { format: '.1%' }, scale: { zero: false } },
          color: { field: 'method', type: 'nominal', sort: methods, title: 'method' },
        },
      },
      {
        data: { values: [{ teacher }] },
        mark: { type: 'rule', strokeDash: [4, 3], color: 'black' },
        encoding: { y: { field: 'teacher', type: 'quantitative' } },
      },
    ],
  };
  return (await renderSvg(spec)).svg;
}

/** Bar chart of the gap closed (last epoch, mean ± std) per method, grouped by pair x regime, drawn with vega-lite. */
export async function gapSvg(result: QualityResult): Promise<string> {
  const rows = summarize(result).filter((r) => !BASELINE_METHODS.includes(r.method));
  const methods = [...new Set(rows.map((r) => r.method))];
  const values = rows.map((r) => ({
    group: `${r.pair} / ${r.regime}`,
    method: r.method,
    mean: r.gapClosed.mean,
    low: r.gapClosed.mean - r.gapClosed.std,
    high: r.gapClosed.mean + r.gapClosed.std,
  }));
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Gap closed, last-epoch test accuracy: (method - scratch) / (teacher - scratch), mean ± std',
    data: { values },
    facet: { column: { field: 'group', type: 'nominal', title: null } },
    spec: {
      width: 160,
      height: 260,
      layer: [
        {
          mark: 'bar',
          encoding: {
            x: { field: 'method', type: 'nominal', sort: methods, axis: null },
            y: { field: 'mean', type: 'quantitative', title: 'gap closed', axis: { format: '.0%' } },
            color: { field: 'method', type: 'nominal', sort: methods, title: 'method' },
          },
        },
        {
          mark: { type: 'rule', color: 'black' },
          encoding: {
            x: { field: 'method', type: 'nominal', sort: methods },
            y: { field: 'low', type: 'quantitative' },
            y2: { field: 'high' },
          },
        },
      ],
    },
  };
  return (await renderSvg(spec)).svg;
}
