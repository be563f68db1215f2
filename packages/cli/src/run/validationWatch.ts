import type { EpochLogs } from '@kd/core';

/** Which validation metric to watch: accuracy (higher is better) or loss (lower is better). */
export type WatchedMetric = 'accuracy' | 'loss';

/**
 * Keep-best and early stopping on one validation metric each, fed the epoch-end logs in
 * order. An epoch seen before (a resumed run replays the epochs logged after its checkpoint,
 * with the same values) changes nothing.
 */
export class ValidationWatch {
  private best: { epoch: number; value: number } | undefined;
  private stopBest = Number.NEGATIVE_INFINITY;
  private sinceBest = 0;
  private lastEpoch = -1;

  constructor(
    private readonly keep: { readonly metric: WatchedMetric } | undefined,
    private readonly stopping: { readonly metric: WatchedMetric; readonly patience: number; readonly minDelta: number } | undefined,
  ) {}

  /** Feeds one epoch; true when it is the new best by the keep-best metric. */
  observe(logs: EpochLogs): boolean {
    if (logs.epoch <= this.lastEpoch || !logs.validation) return false;
    this.lastEpoch = logs.epoch;
    let improved = false;
    if (this.keep) {
      const value = logs.validation[this.keep.metric];
      if (this.best === undefined || score(this.keep.metric, value) > score(this.keep.metric, this.best.value)) {
        this.best = { epoch: logs.epoch, value };
        improved = true;
      }
    }
    if (this.stopping) {
      const s = score(this.stopping.metric, logs.validation[this.stopping.metric]);
      if (s > this.stopBest + this.stopping.minDelta) {
        this.stopBest = s;
        this.sinceBest = 0;
      } else this.sinceBest++;
    }
    return improved;
  }

  /** Whether `patience` epochs have passed without an improvement of more than `minDelta`. */
  get shouldStop(): boolean {
    return this.stopping !== undefined && this.sinceBest >= this.stopping.patience;
  }

  /** The best epoch so far by the keep-best metric. */
  get bestEpoch(): { readonly epoch: number; readonly metric: WatchedMetric; readonly value: number } | undefined {
    return this.best && this.keep ? { ...this.best, metric: this.keep.metric } : undefined;
  }
}

const score = (metric: WatchedMetric, value: number) => (metric === 'accuracy' ? value : -value);
