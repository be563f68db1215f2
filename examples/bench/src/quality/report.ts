import type { Method, Pair, QualityResult, Regime, RunRecord } from './run';

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
        const scratch = result.runs.find((s) => s.seed === r.seed && s.pair === pair && s.regime === regime && s.method === 'scratch');
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
    const gap = r.method === 'scratch' ? '—' : pct(r.gapClosed);
    const gapBest = r.method === 'scratch' ? '—' : pct(r.gapClosedBest);
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

const COLORS = ['#444444', '#1f77b4', '#2ca02c', '#8c564b', '#d62728', '#9467bd', '#ff7f0e'];
const esc = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** Mean test-accuracy curve per method (one SVG per pair x regime), hand-written SVG. */
export function curvesSvg(result: QualityResult, pair: Pair, regime: Regime): string {
  const runs = result.runs.filter((r) => r.pair === pair && r.regime === regime);
  const methods = [...new Set(runs.map((r) => r.method))];
  const series = methods.map((m) => {
    const mine = runs.filter((r) => r.method === m);
    const points = mine[0]!.curve.map((p, i) => ({ x: p.step, y: meanStd(mine.map((r) => r.curve[i]!.test)).mean }));
    return { method: m, points };
  });
  const all = series.flatMap((s) => s.points);
  const teacher = meanStd(result.teachers.map((t) => t.test)).mean;
  const ys = [...all.map((p) => p.y), teacher];
  const [x0, x1] = [0, Math.max(...all.map((p) => p.x))];
  const y0 = Math.floor(Math.min(...ys) * 50) / 50;
  const y1 = Math.ceil(Math.max(...ys) * 50) / 50;
  const W = 640;
  const H = 400;
  const L = 60;
  const R = 150;
  const T = 30;
  const B = 50;
  const sx = (x: number) => L + ((x - x0) / (x1 - x0 || 1)) * (W - L - R);
  const sy = (y: number) => H - B - ((y - y0) / (y1 - y0 || 1)) * (H - T - B);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${L}" y="18" font-size="14">Fashion-MNIST, ${pair} student, ${regime} regime: test accuracy (mean of ${result.options.seeds.length} seeds)</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/>`,
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`,
    `<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">student steps</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const y = y0 + ((y1 - y0) * i) / 5;
    parts.push(`<text x="${L - 6}" y="${sy(y) + 4}" text-anchor="end">${(y * 100).toFixed(1)}</text>`);
    parts.push(`<line x1="${L}" y1="${sy(y)}" x2="${W - R}" y2="${sy(y)}" stroke="#eee"/>`);
    const x = x0 + ((x1 - x0) * i) / 5;
    parts.push(`<text x="${sx(x)}" y="${H - B + 16}" text-anchor="middle">${Math.round(x)}</text>`);
  }
  parts.push(`<line x1="${L}" y1="${sy(teacher)}" x2="${W - R}" y2="${sy(teacher)}" stroke="black" stroke-dasharray="4 3"/>`);
  parts.push(`<text x="${W - R + 6}" y="${sy(teacher) + 4}">teacher</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const d = s.points.map((p, j) => `${j === 0 ? 'M' : 'L'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const p of s.points) parts.push(`<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="2.5" fill="${color}"/>`);
    parts.push(`<rect x="${W - R + 6}" y="${T + 20 + i * 18}" width="12" height="3" fill="${color}"/>`);
    parts.push(`<text x="${W - R + 22}" y="${T + 25 + i * 18}">${esc(s.method)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Bar chart of the gap closed (last epoch, mean ± std) per method, grouped by pair x regime. */
export function gapSvg(result: QualityResult): string {
  const s = summarize(result).filter((r) => r.method !== 'scratch');
  const groups = [...new Set(s.map((r) => `${r.pair} / ${r.regime}`))];
  const methods = [...new Set(s.map((r) => r.method))];
  const values = s.flatMap((r) => [r.gapClosed.mean + r.gapClosed.std, r.gapClosed.mean - r.gapClosed.std]);
  const lo = Math.min(0, ...values);
  const hi = Math.max(1, ...values);
  const W = 720;
  const H = 380;
  const L = 60;
  const T = 30;
  const B = 60;
  const R = 20;
  const groupW = (W - L - R) / Math.max(1, groups.length);
  const barW = (groupW * 0.8) / Math.max(1, methods.length);
  const sy = (v: number) => H - B - ((v - lo) / (hi - lo)) * (H - T - B);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${L}" y="18" font-size="14">Gap closed, last-epoch test accuracy: (method - scratch) / (teacher - scratch), mean ± std</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4;
    parts.push(`<line x1="${L}" y1="${sy(v)}" x2="${W - R}" y2="${sy(v)}" stroke="#eee"/>`);
    parts.push(`<text x="${L - 6}" y="${sy(v) + 4}" text-anchor="end">${(v * 100).toFixed(0)} %</text>`);
  }
  parts.push(`<line x1="${L}" y1="${sy(0)}" x2="${W - R}" y2="${sy(0)}" stroke="black"/>`);
  groups.forEach((g, gi) => {
    const gx = L + gi * groupW + groupW * 0.1;
    parts.push(`<text x="${L + gi * groupW + groupW / 2}" y="${H - B + 18}" text-anchor="middle">${esc(g)}</text>`);
    methods.forEach((m, mi) => {
      const r = s.find((x) => `${x.pair} / ${x.regime}` === g && x.method === m);
      if (!r) return;
      const x = gx + mi * barW;
      const top = sy(Math.max(0, r.gapClosed.mean));
      const bottom = sy(Math.min(0, r.gapClosed.mean));
      const color = COLORS[(mi + 1) % COLORS.length]!;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(bottom - top).toFixed(1)}" fill="${color}"/>`,
      );
      const cx = x + (barW - 2) / 2;
      parts.push(
        `<line x1="${cx.toFixed(1)}" y1="${sy(r.gapClosed.mean + r.gapClosed.std).toFixed(1)}" x2="${cx.toFixed(1)}" y2="${sy(r.gapClosed.mean - r.gapClosed.std).toFixed(1)}" stroke="black"/>`,
      );
    });
  });
  methods.forEach((m, mi) => {
    parts.push(`<rect x="${L + mi * 110}" y="${H - 22}" width="12" height="12" fill="${COLORS[(mi + 1) % COLORS.length]}"/>`);
    parts.push(`<text x="${L + mi * 110 + 16}" y="${H - 12}">${esc(m)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
