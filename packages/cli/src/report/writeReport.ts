import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DistillationError } from '@kd/core';
import { renderSvg } from './renderSvg';
import { CHART_FILES, type ChartName, reportContent } from './reportContent';
import { reportPage } from './reportPage';
import { readRunFolder } from './runFolder';

/** The name of the report's folder inside a run folder. */
export const REPORT_FOLDER = 'report';

/** One chart file {@link writeReport} wrote. */
export interface ReportChart {
  readonly name: ChartName;
  /** Absolute path of the SVG. */
  readonly file: string;
}

/** What {@link writeReport} wrote, and what it left out. */
export interface ReportFiles {
  /** `<run>/report`, absolute. */
  readonly directory: string;
  /** Absolute path of `report.html`. */
  readonly html: string;
  /** The SVG of each chart the run's files allow, in page order. */
  readonly charts: readonly ReportChart[];
  /** Charts left out, and why (the page says the same). */
  readonly omitted: readonly { readonly name: ChartName; readonly reason: string }[];
}

async function writeText(path: string, text: string): Promise<void> {
  try {
    await writeFile(path, text, 'utf8');
  } catch (error) {
    throw new DistillationError('io-error', `Could not write ${path}: ${(error as Error).message}.`, { cause: error });
  }
}

/**
 * Writes the report of a run folder (`logs.jsonl`, `predictions.json` and `summary.json`, as
 * `kd train` writes them) into `<run>/report/`: one SVG per chart (vega-lite specs rendered
 * headless) and a self-contained `report.html` with the SVGs inlined. Charts and table rows whose
 * files or fields are missing are left out, and the page says why; SVGs of a previous report that
 * this one leaves out are removed.
 *
 * @example
 * ```ts
 * const files = await writeReport('runs/kd-mnist');
 * console.log(files.html, files.omitted.map((o) => `${o.name}: ${o.reason}`));
 * ```
 * @throws CliError `bad-run` when the folder is not a run folder or a file is malformed (the
 *   message names the file and line); `io-error` when a file cannot be read or written.
 */
export async function writeReport(runDirectory: string): Promise<ReportFiles> {
  const run = await readRunFolder(runDirectory);
  const content = reportContent(run);
  const directory = join(run.directory, REPORT_FOLDER);
  try {
    await mkdir(directory, { recursive: true });
  } catch (error) {
    throw new DistillationError('io-error', `Could not create ${directory}: ${(error as Error).message}.`, { cause: error });
  }
  const svgs = new Map<ChartName, string>();
  const charts: ReportChart[] = [];
  for (const chart of content.charts) {
    const { svg } = await renderSvg(chart.spec);
    const file = join(directory, CHART_FILES[chart.name]);
    await writeText(file, svg);
    svgs.set(chart.name, svg);
    charts.push({ name: chart.name, file });
  }
  for (const { name } of content.omitted) await rm(join(directory, CHART_FILES[name]), { force: true });
  const html = join(directory, 'report.html');
  await writeText(html, reportPage(content, svgs));
  return { directory, html, charts, omitted: content.omitted };
}
