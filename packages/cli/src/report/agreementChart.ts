import type { TopLevelSpec } from 'vega-lite';
import type { Agreement } from './agreement';
import { CATEGORY_COLOURS, CHART_HEIGHT, CHART_WIDTH, className, VEGA_LITE_SCHEMA } from './chartStyle';
import { percent } from './reportFormat';

/**
 * `agreement.svg`: the teacher-student top-1 agreement rate per true class (a bar per class with
 * examples) and the overall rate (dashed line, and in the title).
 *
 * @param split The split the logits are of, for the subtitle.
 */
export function agreementChart(agreement: Agreement, classNames?: readonly string[], split = 'test'): TopLevelSpec {
  const values = agreement.perClass.flatMap((entry) =>
    entry.rate === null ? [] : [{ name: className(entry.classIndex, classNames), rate: entry.rate, count: entry.count }],
  );
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: {
      text: `Teacher-student top-1 agreement: ${percent(agreement.overall)} overall`,
      subtitle: `share of ${split} examples where the student predicts the teacher’s class, by true class`,
    },
    width: CHART_WIDTH,
    height: CHART_HEIGHT,
    data: { values },
    layer: [
      {
        mark: { type: 'bar', color: CATEGORY_COLOURS[0] },
        encoding: {
          x: {
            field: 'name',
            type: 'ordinal',
            sort: values.map((v) => v.name),
            title: 'true class',
            axis: { labelAngle: values.every((v) => v.name.length <= 3) ? 0 : -45 },
          },
          y: { field: 'rate', type: 'quantitative', title: 'agreement', scale: { domain: [0, 1] }, axis: { format: '.0%' } },
        },
      },
      { mark: { type: 'rule', strokeDash: [4, 4], color: '#e45756' }, encoding: { y: { datum: agreement.overall } } },
    ],
  };
}
