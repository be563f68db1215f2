import type { TopLevelSpec } from 'vega-lite';
import { CATEGORY_COLOURS, CHART_HEIGHT, CHART_WIDTH, VEGA_LITE_SCHEMA } from './chartStyle';
import type { EpochRecord } from './runLogs';
import { stageStartLayers } from './stageMarks';

/**
 * `accuracy.svg`: validation accuracy per epoch (top) and validation loss per epoch (below), with
 * the teacher's accuracy on the evaluation split as a dashed reference line when known. Epochs without validation
 * metrics are left out. In a staged run, a dotted rule marks where each later stage starts.
 *
 * @param teacherAccuracy The teacher's accuracy on the evaluation split (summary.json), if any.
 * @param split That split's name, for the line's label.
 */
export function accuracyChart(epochs: readonly EpochRecord[], teacherAccuracy?: number, split = 'test'): TopLevelSpec {
  const values = epochs.flatMap((e) =>
    e.validation ? [{ epoch: e.runEpoch, accuracy: e.validation.accuracy, loss: e.validation.loss }] : [],
  );
  const x = { field: 'epoch', type: 'quantitative' as const, title: 'epoch', axis: { tickMinStep: 1 } };
  const point = values.length <= 40;
  const teacherRule =
    teacherAccuracy === undefined
      ? []
      : [
          { mark: { type: 'rule' as const, strokeDash: [4, 4], color: '#888888' }, encoding: { y: { datum: teacherAccuracy } } },
          {
            mark: { type: 'text' as const, align: 'left' as const, dx: 4, dy: -6, color: '#666666' },
            encoding: {
              x: { datum: values[0]?.epoch ?? 0, type: 'quantitative' as const },
              y: { datum: teacherAccuracy },
              text: { value: `teacher (${split})` },
            },
          },
        ];
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: 'Validation accuracy and loss per epoch',
    data: { values },
    vconcat: [
      {
        width: CHART_WIDTH,
        height: CHART_HEIGHT,
        layer: [
          {
            mark: { type: 'line', point, color: CATEGORY_COLOURS[0] },
            encoding: {
              x,
              y: { field: 'accuracy', type: 'quantitative', title: 'validation accuracy', axis: { format: '.1%' }, scale: { zero: false } },
            },
          },
          ...teacherRule,
          ...stageStartLayers(epochs),
        ],
      },
      {
        width: CHART_WIDTH,
        height: Math.round(CHART_HEIGHT * 0.7),
        mark: { type: 'line', point, color: CATEGORY_COLOURS[1] },
        encoding: { x, y: { field: 'loss', type: 'quantitative', title: 'validation loss', scale: { zero: false } } },
      },
    ],
  };
}
