import type { Size } from './common';

/** What every experiment's runner takes besides its size and folder. */
export interface RunOptions {
  /** Fashion-MNIST's IDX folder (default: the Debian package's). */
  readonly directory?: string;
  /** Progress lines (one per finished arm). */
  readonly log?: (line: string) => void;
}

/** What every experiment's runner returns: its markdown table (with size, seeds, wall time and load) and the wall seconds. */
export interface ExperimentResult {
  readonly table: string;
  readonly seconds: number;
}

/**
 * One of the papers' experiments: `run(size, dir)` trains every arm over the seeds, writes
 * `<dir>/<name>.json` and `<dir>/<name>.md`, and resumes from `<dir>` when run again.
 */
export interface Experiment {
  /** The command-line name (`hinton`, `bit-norm`, ...). */
  readonly name: string;
  /** The paper and claim, one line. */
  readonly title: string;
  run(size: Size, dir: string, options?: RunOptions): Promise<ExperimentResult>;
}
