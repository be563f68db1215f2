import type { TopLevelSpec } from 'vega-lite';
import type { Calibration } from './calibration';
import { CATEGORY_COLOURS, VEGA_LITE_SCHEMA } from './chartStyle';
import { percent } from './reportFormat';

/** One model's calibration for {@link reliabilityChart}. */
export interface ModelCalibration {
  /** `'student'` or `'teacher'`. */
  readonly model: string;
  readonly calibration: Calibration;
}

const SIDE = 260;

/**
 * `reliability.svg`: a reliability diagram per model, side by side: a bar per non-empty confidence
 * bin (its accuracy over the bin's width), a dot at (mean confidence, accuracy) and the diagonal of
 * perfect calibration; each title gives the model's ECE.
 */
export function reliabilityChart(models: readonly ModelCalibration[]): TopLevelSpec {
  const axis = (title: string) => ({ type: 'quantitative' as const, title, scale: { domain: [0, 1] }, axis: { format: '.0%' } });
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: {
      text: 'Reliability diagram',
      subtitle: `${models[0]?.calibration.bins.length ?? 0} equal-width confidence bins; ECE = Σ |bin| / N · |accuracy − confidence|`,
    },
    hconcat: models.map(({ model, calibration }, index) => ({
      title: `${model}: ECE ${percent(calibration.ece)}`,
      width: SIDE,
      height: SIDE,
      data: { values: calibration.bins.filter((bin) => bin.count > 0).map((bin) => ({ ...bin })) },
      layer: [
        {
          mark: { type: 'rect', color: CATEGORY_COLOURS[index % CATEGORY_COLOURS.length], opacity: 0.75, stroke: 'white' },
          encoding: {
            x: { field: 'lower', ...axis('confidence') },
            x2: { field: 'upper' },
            y: { field: 'accuracy', ...axis('accuracy') },
            y2: { datum: 0 },
          },
        },
        {
          mark: { type: 'point', filled: true, color: '#222222', size: 30 },
          encoding: { x: { field: 'confidence', type: 'quantitative' }, y: { field: 'accuracy', type: 'quantitative' } },
        },
        {
          data: { values: [{ from: 0, to: 1 }] },
          mark: { type: 'rule', strokeDash: [4, 4], color: '#888888' },
          encoding: {
            x: { field: 'from', type: 'quantitative' },
            y: { field: 'from', type: 'quantitative' },
            x2: { field: 'to' },
            y2: { field: 'to' },
          },
        },
      ],
    })),
  };
}
