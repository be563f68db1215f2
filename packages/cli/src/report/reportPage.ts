import { CHART_FILES, type ChartName, type ReportContent, type ReportRow } from './reportContent';
import { escapeHtml } from './reportFormat';
import { scopeSvgIds } from './scopeSvgIds';

const STYLE = `
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #222; }
h1 { margin-bottom: 0.25rem; }
header dl { display: flex; flex-wrap: wrap; gap: 0.25rem 1.5rem; margin: 0.5rem 0 1.5rem; color: #555; }
header dt { font-weight: 600; }
header dt::after { content: ":"; }
header dd { margin: 0 0 0 -1.25rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { padding: 0.3rem 0.9rem; border-bottom: 1px solid #ddd; text-align: left; }
td.value { font-variant-numeric: tabular-nums; text-align: right; }
figure { margin: 1.5rem 0; }
figcaption { font-weight: 600; margin-bottom: 0.5rem; }
figcaption a { font-weight: normal; font-size: 0.85rem; margin-left: 0.75rem; }
.notes li { color: #8a5300; }
svg { max-width: 100%; height: auto; }
`;

function rowsTable(rows: readonly ReportRow[], caption: string): string {
  const body = rows
    .map((r) => `<tr><th scope="row">${escapeHtml(r.label)}</th><td class="value">${escapeHtml(r.value)}</td></tr>`)
    .join('\n');
  return `<table class="results"><caption hidden>${escapeHtml(caption)}</caption>\n${body}\n</table>`;
}

/**
 * The self-contained `report.html` of a run: a header (run name, backend, wall time), the final
 * table and the exports table, what was left out and why, then every chart with its SVG inlined
 * (ids scoped per chart) and a link to its file.
 *
 * @param svgs The rendered SVG of each chart of `content.charts`.
 */
export function reportPage(content: ReportContent, svgs: ReadonlyMap<ChartName, string>): string {
  const header = content.header.map((r) => `<dt>${escapeHtml(r.label)}</dt><dd>${escapeHtml(r.value)}</dd>`).join('');
  const exportsTable =
    content.exports.length === 0
      ? ''
      : `<h2>Exports</h2>
<table class="exports"><thead><tr><th>form</th><th>size</th><th>${escapeHtml(content.split)} accuracy</th><th>latency</th></tr></thead><tbody>
${content.exports
  .map(
    (e) =>
      `<tr><td>${escapeHtml(e.form)}</td><td class="value">${escapeHtml(e.size)}</td><td class="value">${escapeHtml(e.accuracy)}</td><td class="value">${escapeHtml(e.latency)}</td></tr>`,
  )
  .join('\n')}
</tbody></table>`;
  const leftOut = [
    ...content.omitted.map(
      (o) =>
        `<li data-chart="${escapeHtml(o.name)}">Chart <code>${escapeHtml(CHART_FILES[o.name])}</code> left out: ${escapeHtml(o.reason)}</li>`,
    ),
    ...content.notes.map((n) => `<li>${escapeHtml(n)}</li>`),
  ];
  const notes = leftOut.length === 0 ? '' : `<section class="notes"><h2>Left out</h2><ul>\n${leftOut.join('\n')}\n</ul></section>`;
  const figures = content.charts
    .map((chart) => {
      const file = CHART_FILES[chart.name];
      const svg = scopeSvgIds(svgs.get(chart.name) ?? '', chart.name);
      return `<figure id="chart-${chart.name}" data-chart="${chart.name}"><figcaption>${escapeHtml(chart.heading)}<a href="${file}">${file}</a></figcaption>\n${svg}\n</figure>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kd report: ${escapeHtml(content.runName)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>Run ${escapeHtml(content.runName)}</h1>
<dl>${header}</dl>
</header>
<main>
<h2>Results</h2>
${content.results.length > 0 ? rowsTable(content.results, 'Final results') : '<p>No results: the run folder has neither summary.json nor predictions.json.</p>'}
${exportsTable}
${notes}
<h2>Charts</h2>
${figures || '<p>No charts: see above for why.</p>'}
</main>
</body>
</html>
`;
}
