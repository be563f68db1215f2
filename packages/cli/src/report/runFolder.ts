import { readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { DistillationError } from '@kd/core';
import { CliError } from '../errors';
import { type EpochRecord, parseRunLogs } from './runLogs';
import { type PredictionsFile, parseRunPredictions } from './runPredictions';
import { parseRunSummary, type SummaryFile } from './runSummary';

/** The files of a run folder that the report reads. */
export const RUN_FILES = { logs: 'logs.jsonl', predictions: 'predictions.json', summary: 'summary.json' } as const;

/** What a run folder holds, as the report reads it; a file that is not there is `undefined`. */
export interface RunFolder {
  /** Absolute path of the folder. */
  readonly directory: string;
  /** The run's name: the folder's name. */
  readonly name: string;
  /** The epochs of `logs.jsonl`, in run order. */
  readonly epochs?: readonly EpochRecord[];
  readonly predictions?: PredictionsFile;
  readonly summary?: SummaryFile;
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DistillationError('io-error', `Could not read ${path}: ${(error as Error).message}.`, { cause: error });
  }
}

/**
 * Reads the run folder `kd train` wrote: `logs.jsonl`, `predictions.json` and `summary.json`, each
 * optional.
 *
 * @throws CliError `bad-run` when `directory` is not a folder, holds none of the three files,
 *   or one of them is malformed (the message names the file and line); `io-error` when a file
 *   exists but cannot be read.
 */
export async function readRunFolder(directory: string): Promise<RunFolder> {
  const absolute = resolve(directory);
  const info = await stat(absolute).catch(() => undefined);
  if (!info?.isDirectory()) throw new CliError('bad-run', `The run folder ${absolute} does not exist or is not a folder.`);
  const logsPath = join(absolute, RUN_FILES.logs);
  const predictionsPath = join(absolute, RUN_FILES.predictions);
  const summaryPath = join(absolute, RUN_FILES.summary);
  const [logs, predictions, summary] = await Promise.all([
    readOptional(logsPath),
    readOptional(predictionsPath),
    readOptional(summaryPath),
  ]);
  if (logs === undefined && predictions === undefined && summary === undefined) {
    throw new CliError(
      'bad-run',
      `${absolute} is not a run folder: it has none of ${Object.values(RUN_FILES).join(', ')} (write one with kd train).`,
    );
  }
  return {
    directory: absolute,
    name: basename(absolute),
    ...(logs !== undefined ? { epochs: parseRunLogs(logs, logsPath) } : {}),
    ...(predictions !== undefined ? { predictions: parseRunPredictions(predictions, predictionsPath) } : {}),
    ...(summary !== undefined ? { summary: parseRunSummary(summary, summaryPath) } : {}),
  };
}
