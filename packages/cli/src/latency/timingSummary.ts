import { DistillationError } from '@kd/core';
/** The median and 90th percentile of a list of durations, in milliseconds. */
export interface TimingSummary {
  /** The middle duration (the mean of the two middle ones for an even count). */
  readonly medianMs: number;
  /** The nearest-rank 90th percentile: the smallest duration at least 90% of the runs do not exceed. */
  readonly p90Ms: number;
}

/**
 * The median and nearest-rank 90th percentile of `durations` (milliseconds, at least one).
 * `p90Ms >= medianMs` always holds.
 */
export function summarizeTimings(durations: readonly number[]): TimingSummary {
  if (durations.length === 0)
    throw new DistillationError('bad-option', 'summarizeTimings: durations must hold at least one timing, got none');
  const sorted = [...durations].sort((a, b) => a - b);
  const n = sorted.length;
  const middle = Math.floor(n / 2);
  const medianMs = n % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  const p90Ms = sorted[Math.ceil(0.9 * n) - 1]!;
  return { medianMs, p90Ms };
}
