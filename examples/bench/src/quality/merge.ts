import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { curvesSvg, gapSvg, markdown } from './report';
import type { QualityResult } from './run';

/**
 * Merges the `results.json` of runs made in parallel (e.g. one process per seed) and writes the
 * combined JSON, markdown table and SVG plots:
 * `node --import tsx src/quality/merge.ts OUT_DIR out/full-s1/results.json out/full-s2/results.json ...`
 */
export function mergeResults(parts: readonly QualityResult[]): QualityResult {
  const first = parts[0]!;
  const union = <T>(pick: (o: QualityResult['options']) => readonly T[]): T[] => [...new Set(parts.flatMap((p) => pick(p.options)))];
  // A seed's teacher appears once even when several parts (e.g. other regimes) loaded it.
  const teachers = [...new Map(parts.flatMap((p) => p.teachers).map((t) => [t.seed, t] as const)).values()];
  return {
    options: {
      ...first.options,
      seeds: union((o) => o.seeds),
      pairs: union((o) => o.pairs),
      regimes: union((o) => o.regimes),
      methods: union((o) => o.methods),
    },
    teachers,
    runs: parts.flatMap((p) => p.runs),
    seconds: Math.max(...parts.map((p) => p.seconds)),
  };
}

export async function writeReport(result: QualityResult, out: string): Promise<string> {
  mkdirSync(out, { recursive: true });
  const table = markdown(result);
  writeFileSync(join(out, 'results.json'), JSON.stringify(result, null, 2));
  writeFileSync(join(out, 'results.md'), `${table}\n`);
  for (const pair of result.options.pairs) {
    for (const regime of result.options.regimes)
      writeFileSync(join(out, `curves-${pair}-${regime}.svg`), await curvesSvg(result, pair, regime));
  }
  writeFileSync(join(out, 'gap-closed.svg'), await gapSvg(result));
  return table;
}

const [, script, out, ...files] = process.argv;
if (script?.endsWith('merge.ts') && out && files.length > 0) {
  const merged = mergeResults(files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as QualityResult));
  console.log(await writeReport(merged, out));
}
