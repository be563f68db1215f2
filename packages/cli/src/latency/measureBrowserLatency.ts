import { DistillationError, parseOptions } from '@kd/core';
import type { Browser } from 'playwright-core';
import { LatencyError } from './errors';
import { type BrowserLatencyOptions, browserLatencyOptionsSchema } from './latencyOptions';
import { type PageTiming, type PageTimingRequest, timeModelInPage } from './latencyPage';
import { latencySiteRoute, modelUrlPath } from './latencySite';
import { chromiumLauncher } from './launchChromium';
import { checkModelFolder } from './modelFolder';
import { type StaticSite, serveStatic } from './staticServer';
import { tfjsBrowserBundles } from './tfjsBundles';
import { summarizeTimings } from './timingSummary';

/** The browser latency of one form of a model. */
export interface FormLatency {
  /** The form's name, as given in the options. */
  readonly form: string;
  /** Median milliseconds of one `predict` + `dataSync()` of a zeros batch. */
  readonly medianMs: number;
  /** Nearest-rank 90th percentile of the same, in milliseconds (`>= medianMs`). */
  readonly p90Ms: number;
  /** How many predictions were timed (the `runs` option). */
  readonly runs: number;
  /** The sum of every output value of the first timed prediction: evidence the page predicted with the real weights. */
  readonly checksum: number;
}

/** What {@link measureBrowserLatency} found. */
export interface BrowserLatency {
  /** The browser and its version, e.g. `chromium 150.0.7871.100`. */
  readonly browser: string;
  /** The tfjs backend the page predicted with. */
  readonly backend: 'cpu';
  /** One entry per form, in the order of the options' `models`. */
  readonly results: FormLatency[];
}

const WHERE = 'measureBrowserLatency';

/**
 * Times each exported form of a model (e.g. the `student/`, `exports/float16/` and
 * `exports/uint8/` folders `kd train` writes) in headless Chromium on tfjs' cpu backend: serves
 * the folders and the installed tfjs browser bundles from a localhost server, loads each form
 * with `tf.loadLayersModel` (quantised weights are dequantised on load), predicts a zeros batch
 * `warmup` times and then times `runs` predictions, each `predict` + `dataSync()`.
 *
 * Needs the optional peer `playwright-core` and a Chromium executable; without either it throws
 * `browser-unavailable` before starting anything. Bad options are `bad-option` /
 * `unknown-option`; a model folder without `model.json` or a weights file is core's
 * `model-not-found` / `truncated-weights`; a model that fails in the page is `page-failed`.
 * The browser and the server are closed whatever happens.
 *
 * @example
 * ```ts
 * const latency = await measureBrowserLatency({
 *   models: [
 *     { form: 'float32', directory: 'run/student' },
 *     { form: 'uint8', directory: 'run/exports/uint8' },
 *   ],
 * });
 * for (const r of latency.results) console.log(`${r.form}: ${r.medianMs.toFixed(2)} ms`);
 * ```
 */
export async function measureBrowserLatency(options: BrowserLatencyOptions): Promise<BrowserLatency> {
  const { models, runs, warmup, batchSize, executablePath } = parseOptions(browserLatencyOptionsSchema, options, WHERE);
  const seen = new Map<string, number>();
  models.forEach((model, i) => {
    const first = seen.get(model.form);
    if (first !== undefined)
      throw new DistillationError(
        'bad-option',
        `${WHERE}: option "models[${i}].form" must be unique, got '${model.form}' (also models[${first}].form)`,
      );
    seen.set(model.form, i);
    checkModelFolder(model.directory, `${WHERE}: models[${i}] ('${model.form}')`);
  });
  const launch = await chromiumLauncher(executablePath ?? process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium', WHERE);
  const bundles = tfjsBrowserBundles();

  let site: StaticSite | undefined;
  let browser: Browser | undefined;
  try {
    site = await serveStatic(latencySiteRoute(models, bundles));
    browser = await launch();
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    const loaded = await page.goto(`${site.origin}/index.html`);
    if (!loaded?.ok()) throw new LatencyError('page-failed', `${WHERE}: the latency page did not load (HTTP ${loaded?.status()})`);
    const results: FormLatency[] = [];
    for (const [i, model] of models.entries()) {
      const request: PageTimingRequest = { url: site.origin + modelUrlPath(i), batchSize, warmup, runs };
      let timing: PageTiming;
      try {
        timing = await page.evaluate<PageTiming>(`(${timeModelInPage})(${JSON.stringify(request)})`);
      } catch (cause) {
        const message = cause instanceof Error ? cause.message : String(cause);
        const errors = pageErrors.length ? ` (page errors: ${pageErrors.join('; ')})` : '';
        throw new LatencyError(
          'page-failed',
          `${WHERE}: models[${i}] ('${model.form}', ${model.directory}) failed in the browser: ${message}${errors}`,
          {
            cause,
          },
        );
      }
      if (timing.backend !== 'cpu')
        throw new LatencyError('page-failed', `${WHERE}: models[${i}] ('${model.form}') ran on backend '${timing.backend}', not 'cpu'`);
      results.push({ form: model.form, ...summarizeTimings(timing.durations), runs: timing.durations.length, checksum: timing.checksum });
    }
    return { browser: `chromium ${browser.version()}`, backend: 'cpu', results };
  } finally {
    await browser?.close().catch(() => undefined);
    await site?.close();
  }
}
