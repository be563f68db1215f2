import { describe, expect, it } from 'vitest';
import { accuracyChart } from './accuracyChart';
import { topOneAgreement } from './agreement';
import { agreementChart } from './agreementChart';
import { reliabilityBins } from './calibration';
import { classCorrelationDifference } from './classCorrelation';
import { classCorrelationChart } from './classCorrelationChart';
import { lossesChart } from './lossesChart';
import { reliabilityChart } from './reliabilityChart';
import { renderSvg } from './renderSvg';
import type { EpochRecord } from './runLogs';
import { stageStarts } from './stageMarks';

const epoch = (stage: string, at: number, runEpoch: number, terms: Record<string, number>, validation = true): EpochRecord => ({
  stage,
  epoch: at,
  runEpoch,
  loss: Object.values(terms).reduce((a, b) => a + b, 0),
  terms,
  learningRate: 0.1,
  weights: {},
  seconds: 1,
  ...(validation ? { validation: { accuracy: 0.5 + runEpoch / 10, loss: 1 - runEpoch / 10 } } : {}),
});

// A staged run: the hint stage has one term, the KD stage two others; one epoch lacks validation.
const staged = [
  epoch('hints', 0, 0, { hint: 3 }),
  epoch('hints', 1, 1, { hint: 2 }, false),
  epoch('kd', 0, 2, { ce: 1, kd: 0.5 }),
  epoch('kd', 1, 3, { ce: 0.8, kd: 0.4 }),
];
const logits = [
  [2, 0, 1],
  [0, 3, 1],
  [1, 0, 2],
  [0, 1, 0],
];
const labels = [0, 1, 2, 2];

const lineCount = (svg: string) => (svg.match(/<g class="mark-line role-mark/g) ?? []).length;

describe('chart specs', () => {
  it('render without vega-lite or vega warnings', async () => {
    const specs = [
      lossesChart(staged),
      accuracyChart(staged, 0.9),
      accuracyChart(staged),
      classCorrelationChart(
        classCorrelationDifference(
          logits,
          logits.map((r) => r.map((z) => z * 0.5 + 1)),
        ),
        ['a', 'b', 'c'],
      ),
      reliabilityChart([{ model: 'student', calibration: reliabilityBins(logits, labels) }]),
      agreementChart(topOneAgreement(logits, logits, labels, 4)),
    ];
    for (const spec of specs) expect((await renderSvg(spec)).warnings).toEqual([]);
  });

  it('draws a line per term of every stage plus the total, and skips epochs without validation', async () => {
    const losses = await renderSvg(lossesChart(staged));
    expect(lineCount(losses.svg)).toBe(4); // total, hint, ce, kd
    const values = (accuracyChart(staged) as { data: { values: unknown[] } }).data.values;
    expect(values).toHaveLength(3);
  });

  it('marks where each later stage starts, between its first epoch and the last of the stage before', async () => {
    expect(stageStarts(staged)).toEqual([{ stage: 'kd', at: 1.5 }]);
    expect(stageStarts(staged.map((e) => ({ ...e, stage: 'train' })))).toEqual([]);
    for (const spec of [lossesChart(staged), accuracyChart(staged)]) {
      const { svg } = await renderSvg(spec);
      expect((svg.match(/<g class="mark-rule role-mark[^"]*"[^>]*><line/g) ?? []).length).toBe(1);
      expect(svg).toMatch(/<g class="mark-text role-mark[^"]*"[^>]*><text[^>]*>kd<\/text>/);
    }
    const single = await renderSvg(lossesChart(staged.map((e) => ({ ...e, stage: 'train' }))));
    expect(single.svg).not.toContain('mark-rule role-mark');
  });

  it('centres the heatmap colour scale at 0 with a symmetric domain', () => {
    const spec = classCorrelationChart({
      difference: [
        [0, -0.2],
        [-0.2, 0],
      ],
      meanAbsoluteDifference: 0.2,
    }) as {
      encoding: { color: { scale: { domain: number[]; domainMid: number } } };
    };
    expect(spec.encoding.color.scale.domain).toEqual([-0.2, 0.2]);
    expect(spec.encoding.color.scale.domainMid).toBe(0);
  });
});
