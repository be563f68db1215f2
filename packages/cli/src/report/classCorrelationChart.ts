import type { TopLevelSpec } from 'vega-lite';
import { className, VEGA_LITE_SCHEMA } from './chartStyle';
import type { ClassCorrelationDifference } from './classCorrelation';

/**
 * `class-correlation.svg`: heatmap of teacher − student class-correlation matrices (one cell per
 * class pair), on a diverging colour scale centred at 0 and symmetric around it; the title gives
 * the mean absolute off-diagonal difference.
 *
 * @param split The split the logits are of, for the subtitle.
 */
export function classCorrelationChart(result: ClassCorrelationDifference, classNames?: readonly string[], split = 'test'): TopLevelSpec {
  const names = result.difference.map((_, i) => className(i, classNames));
  const values = result.difference.flatMap((row, i) => row.map((difference, j) => ({ row: names[i]!, column: names[j]!, difference })));
  let largest = 0;
  for (const v of values) largest = Math.max(largest, Math.abs(v.difference));
  const bound = largest > 0 ? largest : 1;
  const cell = Math.max(12, Math.min(32, Math.floor(400 / Math.max(1, names.length))));
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: {
      text: `Teacher − student class correlation (mean |Δ| = ${result.meanAbsoluteDifference.toFixed(4)})`,
      subtitle: `Pearson correlation of the logit columns over the ${split} split; 0 = the student matches the teacher`,
    },
    data: { values },
    width: { step: cell },
    height: { step: cell },
    mark: { type: 'rect' },
    encoding: {
      x: {
        field: 'column',
        type: 'ordinal',
        sort: names,
        title: 'class',
        axis: { labelAngle: names.every((n) => n.length <= 3) ? 0 : -45 },
      },
      y: { field: 'row', type: 'ordinal', sort: names, title: 'class' },
      color: {
        field: 'difference',
        type: 'quantitative',
        title: 'teacher − student',
        scale: { scheme: 'redblue', reverse: true, domain: [-bound, bound], domainMid: 0 },
      },
    },
  };
}
