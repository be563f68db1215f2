import { describe, expect, it } from 'vitest';
import { expectedCalibrationError, reliabilityBins } from './calibration';

const LN3 = Math.log(3); // logits [ln 3, 0] give probabilities [0.75, 0.25]

describe('reliabilityBins', () => {
  it('gives ECE 0 for a perfectly calibrated toy set', () => {
    // Four examples at confidence 0.75 with 3 of 4 right, two at 0.5 (a tie: class 0) with 1 of 2 right.
    const logits = [
      [LN3, 0],
      [LN3, 0],
      [LN3, 0],
      [LN3, 0],
      [0, 0],
      [0, 0],
    ];
    const labels = [0, 0, 0, 1, 0, 1];
    const { bins, ece, count } = reliabilityBins(logits, labels);
    expect(count).toBe(6);
    expect(bins).toHaveLength(15);
    expect(ece).toBeCloseTo(0, 12);
    // 0.75 lies in (11/15, 12/15], 0.5 in (7/15, 8/15].
    expect(bins[11]!.count).toBe(4);
    expect(bins[11]!.accuracy).toBe(0.75);
    expect(bins[11]!.confidence).toBeCloseTo(0.75, 12);
    expect(bins[7]!.count).toBe(2);
    expect(bins[7]!.accuracy).toBe(0.5);
    expect(bins.reduce((n, b) => n + b.count, 0)).toBe(6);
  });

  it('weights each bin gap by its share of the examples', () => {
    // Two at confidence 0.75, both right (gap 0.25); two at 0.5, both wrong (gap 0.5):
    // ECE = 2/4 * 0.25 + 2/4 * 0.5 = 0.375.
    const logits = [
      [LN3, 0],
      [0, LN3],
      [0, 0],
      [0, 0],
    ];
    const labels = [0, 1, 1, 1];
    expect(reliabilityBins(logits, labels).ece).toBeCloseTo(0.375, 12);
  });

  it('puts a confidence on a bin edge into the lower bin (edges are upper-inclusive) and confidence 1 into the last', () => {
    const third = reliabilityBins([[0, 0, 0]], [0]); // confidence exactly 1/3 = 5/15
    expect(third.bins[4]!.count).toBe(1);
    const sure = reliabilityBins([[800, 0]], [0]);
    expect(sure.bins[14]!.count).toBe(1);
    expect(sure.ece).toBe(0);
    const five = reliabilityBins([[LN3, 0]], [0], 5); // 0.75 in (0.6, 0.8]
    expect(five.bins.map((b) => b.count)).toEqual([0, 0, 0, 1, 0]);
    expect(five.bins[3]!.lower).toBeCloseTo(0.6, 12);
    expect(five.bins[3]!.upper).toBeCloseTo(0.8, 12);
  });
});

describe('expectedCalibrationError', () => {
  it('is 0 with no examples and the weighted gap otherwise', () => {
    expect(expectedCalibrationError([])).toBe(0);
    const bins = [
      { lower: 0, upper: 0.5, count: 1, accuracy: 0, confidence: 0.4 },
      { lower: 0.5, upper: 1, count: 3, accuracy: 1, confidence: 0.9 },
    ];
    expect(expectedCalibrationError(bins)).toBeCloseTo(0.25 * 0.4 + 0.75 * 0.1, 12);
  });
});
