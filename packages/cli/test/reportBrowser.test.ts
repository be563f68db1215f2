import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumLauncher } from '../src/latency/launchChromium';
import { writeReport } from '../src/report';
import { type SyntheticRun, writeSyntheticRun } from './reportFixture';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// Names that must come through the SVG and HTML escaped, as text.
const CLASS_NAMES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', '<b>eight</b>', 'nine & more'];

describe('report.html in headless Chromium', () => {
  let browser: Browser;
  let synthetic: SyntheticRun;
  let html: string;

  beforeAll(async () => {
    synthetic = writeSyntheticRun({ classNames: CLASS_NAMES });
    html = (await writeReport(synthetic.directory)).html;
    // The launcher the latency measurement uses: a missing Chromium fails here with browser-unavailable.
    browser = await (await chromiumLauncher(CHROMIUM, 'report test'))();
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(synthetic.directory, { recursive: true, force: true });
  });

  it('renders every chart inline with its series, and takes a non-trivial screenshot', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(pathToFileURL(html).href);
    const screenshot = join(synthetic.directory, 'report-screenshot.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    expect(statSync(screenshot).size).toBeGreaterThan(50_000);

    const seen = await page.evaluate(() => {
      const count = (selector: string) => document.querySelectorAll(selector).length;
      const texts = (selector: string) => Array.from(document.querySelectorAll(selector)).map((e) => e.textContent ?? '');
      return {
        svgs: count('figure > svg'),
        lossLines: count('#chart-losses svg .mark-line.role-mark path'),
        lossLegend: texts('#chart-losses svg .role-legend-label text'),
        validationLines: count('#chart-accuracy svg .mark-line.role-mark path'),
        heatmapCells: count('#chart-class-correlation svg .mark-rect.role-mark path'),
        heatmapLabels: texts('#chart-class-correlation svg .role-axis-label text'),
        reliabilityBars: count('#chart-reliability svg .mark-rect.role-mark path'),
        reliabilityTitles: texts('#chart-reliability svg .role-title-text text'),
        agreementBars: count('#chart-agreement svg .mark-rect.role-mark path'),
        injected: count('figure svg b'),
        links: Array.from(document.querySelectorAll('figcaption a')).map((a) => a.getAttribute('href')),
        // Every url(#id) reference (legend gradients, clips) resolves inside its own figure.
        danglingReferences: Array.from(document.querySelectorAll('figure')).flatMap((figure) =>
          [...figure.innerHTML.matchAll(/url\(#([^)]+)\)/g)]
            .map((m) => m[1]!)
            .filter((id) => figure.querySelector(`[id="${id}"]`) === null),
        ),
        references: (document.body.innerHTML.match(/url\(#/g) ?? []).length,
        heatmapWidth: document.querySelector('#chart-class-correlation svg')?.getBoundingClientRect().width ?? 0,
      };
    });
    expect(errors).toEqual([]);
    expect(seen.svgs).toBe(5);
    expect(seen.lossLines).toBe(synthetic.terms.length + 1);
    expect(seen.lossLegend).toEqual(['total', ...synthetic.terms]);
    expect(seen.validationLines).toBe(2);
    expect(seen.heatmapCells).toBe(100);
    // Each class name labels both axes of the heatmap, as text.
    for (const name of CLASS_NAMES) expect(seen.heatmapLabels.filter((label) => label === name)).toHaveLength(2);
    expect(seen.injected).toBe(0);
    expect(seen.reliabilityBars).toBeGreaterThan(2);
    expect(seen.reliabilityTitles.map((t) => t.replace(/ECE [\d.]+ %/, 'ECE'))).toEqual([
      'student: ECE',
      'teacher: ECE',
      'Reliability diagram',
    ]);
    expect(seen.agreementBars).toBe(10);
    expect(seen.links).toEqual(['losses.svg', 'accuracy.svg', 'class-correlation.svg', 'reliability.svg', 'agreement.svg']);
    expect(seen.heatmapWidth).toBeGreaterThan(200);
    expect(seen.references).toBeGreaterThan(0);
    expect(seen.danglingReferences).toEqual([]);
    await page.close();
  });
});
