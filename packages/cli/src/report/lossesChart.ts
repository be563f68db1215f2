import type { TopLevelSpec } from 'vega-lite';
import { CATEGORY_COLOURS, CHART_HEIGHT, CHART_WIDTH, VEGA_LITE_SCHEMA } from './chartStyle';
import type { EpochRecord } from './runLogs';
import { stageStartLayers } from './stageMarks';

/** The series name of the weighted total loss in {@link lossesChart}. */
export const TOTAL_LOSS_SERIES = 'total';

/** The loss terms of a run, in order of first appearance. */
export function lossTermNames(epochs: readonly EpochRecord[]): string[] {
  const names = new Set<string>();
  for (const epoch of epochs) for (const term of Object.keys(epoch.terms)) names.add(term);
  return [...names];
}

/**
 * `losses.svg`: every loss term per epoch (one line per term, unweighted) and the weighted total
 * loss (dark line), coloured by series; in a staged run, a dotted rule where each later stage starts.
 */
export function lossesChart(epochs: readonly EpochRecord[]): TopLevelSpec {
  const terms = lossTermNames(epochs).filter((term) => term !== TOTAL_LOSS_SERIES);
  const series = [TOTAL_LOSS_SERIES, ...terms];
  const values = epochs.flatMap((e) => [
    { epoch: e.runEpoch, series: TOTAL_LOSS_SERIES, value: e.loss },
    ...terms.filter((term) => term in e.terms).map((term) => ({ epoch: e.runEpoch, series: term, value: e.terms[term]! })),
  ]);
  const range = series.map((_, i) => (i === 0 ? '#222222' : CATEGORY_COLOURS[(i - 1) % CATEGORY_COLOURS.length]!));
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: { text: 'Loss per epoch', subtitle: 'terms unweighted; total = the weighted sum the optimizer minimised' },
    width: CHART_WIDTH,
    height: CHART_HEIGHT,
    layer: [
      {
        data: { values },
        mark: { type: 'line', point: epochs.length <= 40 },
        encoding: {
          x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1 } },
          y: { field: 'value', type: 'quantitative', title: 'loss' },
          color: { field: 'series', type: 'nominal', title: 'series', sort: series, scale: { domain: series, range } },
        },
      },
      ...stageStartLayers(epochs),
    ],
  };
}
