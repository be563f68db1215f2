import { join } from 'node:path';

/** The files of a run folder (`kd train` writes them; `kd report` and `--resume` read them). */
export function runPaths(runDirectory: string) {
  return {
    root: runDirectory,
    /** The config as given, parsed, with every default filled in (what a rerun uses). */
    resolvedConfig: join(runDirectory, 'config.resolved.json'),
    /** Where the config came from (relative paths in it start at `baseDirectory`). */
    run: join(runDirectory, 'run.json'),
    /** Every progress event as one JSON line, with its stage. */
    logs: join(runDirectory, 'logs.jsonl'),
    /** The last checkpoint (atomic writes; `--resume` continues from it bit-exactly). */
    checkpoint: join(runDirectory, 'checkpoint.kdckpt'),
    /** Where early stopping ended the last stage (`{ stage, epoch }`), once it has. */
    stopped: join(runDirectory, 'stopped.json'),
    /** The best student so far by the validation metric (with `training.keepBest`). */
    best: join(runDirectory, 'best'),
    /** The final student: model.json + weights.bin (the best one with keepBest). */
    student: join(runDirectory, 'student'),
    /** Quantised copies of the student: `exports/float16`, `exports/uint8`. */
    exports: join(runDirectory, 'exports'),
    /** Test-split labels and logits of student and teacher (the report's matrices and calibration). */
    predictions: join(runDirectory, 'predictions.json'),
    /** Final figures (written last: a run with a summary is finished). */
    summary: join(runDirectory, 'summary.json'),
    /** report.html and the charts. */
    report: join(runDirectory, 'report'),
  };
}

/** The files of a run folder. */
export type RunPaths = ReturnType<typeof runPaths>;
