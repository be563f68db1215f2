/** The marks of one kind in a vega SVG: the `<path>` elements of its `<g class="mark-<kind> role-mark …">` groups. */
export function markPaths(svg: string, kind: string): string[] {
  const paths: string[] = [];
  const opening = new RegExp(`<g class="mark-${kind} role-mark[^"]*"[^>]*>`, 'g');
  for (const match of svg.matchAll(opening)) {
    const start = match.index + match[0].length;
    const end = svg.indexOf('</g>', start);
    paths.push(...(svg.slice(start, end).match(/<path[^>]*>/g) ?? []));
  }
  return paths;
}

/** The texts of the legend labels of a vega SVG. */
export function legendLabels(svg: string): string[] {
  const labels: string[] = [];
  for (const group of svg.matchAll(/<g class="mark-text role-legend-label"[^>]*>(.*?)<\/g>/g)) {
    for (const text of group[1]!.matchAll(/<text[^>]*>([^<]*)<\/text>/g)) labels.push(text[1]!);
  }
  return labels;
}

/** The chart titles (and subtitles) of a vega SVG. */
export function titleTexts(svg: string): string[] {
  return [...svg.matchAll(/<g class="mark-text role-title-(?:text|subtitle)"[^>]*>(.*?)<\/g>/g)].flatMap((group) =>
    [...group[1]!.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((t) => t[1]!),
  );
}

/** Independent of the report's helpers: the ECE (15 bins) and non-empty bin count of a set of logits, from the definitions. */
export function expectedCalibration(logits: readonly (readonly number[])[], labels: readonly number[]): { ece: number; bins: number } {
  const bins = Array.from({ length: 15 }, () => ({ n: 0, right: 0, confidence: 0 }));
  logits.forEach((row, i) => {
    const max = Math.max(...row);
    const exps = row.map((z) => Math.exp(z - max));
    const total = exps.reduce((a, b) => a + b, 0);
    const top = exps.indexOf(Math.max(...exps));
    const confidence = exps[top]! / total;
    const bin = bins[Math.min(14, Math.ceil(confidence * 15) - 1)]!;
    bin.n += 1;
    bin.confidence += confidence;
    if (top === labels[i]) bin.right += 1;
  });
  let ece = 0;
  for (const b of bins) if (b.n > 0) ece += (b.n / logits.length) * Math.abs(b.right / b.n - b.confidence / b.n);
  return { ece, bins: bins.filter((b) => b.n > 0).length };
}
