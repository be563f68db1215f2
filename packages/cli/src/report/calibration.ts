import { argmax } from './argmax';
import { softmax } from './softmax';

/** One confidence bin of a reliability diagram. */
export interface ReliabilityBin {
  /** Lower edge (exclusive, except 0 for the first bin). */
  readonly lower: number;
  /** Upper edge (inclusive). */
  readonly upper: number;
  /** Examples whose top-1 confidence falls in the bin. */
  readonly count: number;
  /** Top-1 accuracy of those examples; 0 for an empty bin. */
  readonly accuracy: number;
  /** Mean top-1 confidence (largest softmax probability) of those examples; 0 for an empty bin. */
  readonly confidence: number;
}

/** What {@link reliabilityBins} returns. */
export interface Calibration {
  /** `binCount` equal-width bins over [0, 1], in order (empty ones included). */
  readonly bins: readonly ReliabilityBin[];
  /** Expected calibration error, `sum_b |b| / N * |accuracy(b) - confidence(b)|`. */
  readonly ece: number;
  /** Number of examples N. */
  readonly count: number;
}

/**
 * Bins the examples by their top-1 confidence (the largest softmax probability of their logits)
 * into `binCount` equal-width bins `((b - 1) / M, b / M]` and measures each bin's accuracy and mean
 * confidence: the data of a reliability diagram and its expected calibration error (Guo et al.,
 * "On Calibration of Modern Neural Networks", 2017).
 *
 * @param logits One row of logits per example.
 * @param labels The true class of each example.
 * @param binCount Number of bins M; default 15.
 */
export function reliabilityBins(logits: readonly (readonly number[])[], labels: readonly number[], binCount = 15): Calibration {
  const counts = new Array<number>(binCount).fill(0);
  const correct = new Array<number>(binCount).fill(0);
  const confidenceSums = new Array<number>(binCount).fill(0);
  logits.forEach((row, i) => {
    const probabilities = softmax(row);
    const predicted = argmax(probabilities);
    const confidence = probabilities[predicted]!;
    const bin = Math.min(binCount - 1, Math.max(0, Math.ceil(confidence * binCount) - 1));
    counts[bin]! += 1;
    confidenceSums[bin]! += confidence;
    if (predicted === labels[i]) correct[bin]! += 1;
  });
  const bins = counts.map((count, b) => ({
    lower: b / binCount,
    upper: (b + 1) / binCount,
    count,
    accuracy: count > 0 ? correct[b]! / count : 0,
    confidence: count > 0 ? confidenceSums[b]! / count : 0,
  }));
  return { bins, ece: expectedCalibrationError(bins), count: logits.length };
}

/** Expected calibration error of a set of bins: `sum_b |b| / N * |accuracy(b) - confidence(b)|`, N the total count (0 when empty). */
export function expectedCalibrationError(bins: readonly ReliabilityBin[]): number {
  let total = 0;
  for (const bin of bins) total += bin.count;
  if (total === 0) return 0;
  let ece = 0;
  for (const bin of bins) ece += (bin.count / total) * Math.abs(bin.accuracy - bin.confidence);
  return ece;
}
