import { DistillationError, type DistillationErrorOptions } from '@kd/core';
import { latencyErrorCodes } from './latency/errors';

/**
 * Every code `@kd/cli` throws itself, with what it means. A config's bad keys and values are
 * `@kd/core`'s `unknown-option` / `bad-option` (with the key's path, e.g. `methods[2].weight`)
 * and an unknown method, model, source, optimizer or schedule is core's `unknown-name`.
 */
export const cliErrorCodes = {
  'config-not-found': 'The config file (or the run folder given to --resume) does not exist.',
  'bad-config':
    'A config file is not valid YAML or JSON (the message gives the line), or its keys contradict each other (methods and stages, model and builder).',
  'package-not-found': 'A package named in `packages` cannot be imported from the config file’s folder or the command line’s.',
  'no-registry': 'A package named in `packages` exports no `registry`.',
  'run-exists': 'The run folder already holds a run; resume it with --resume, or choose another folder.',
  'bad-run': 'A run folder is missing a file it should have, or a file in it is malformed (the message names the file and line).',
  'unknown-layer-class':
    "A saved model uses a custom layer class (e.g. @kd/bit's GroupNormalization) that no package the config loads registers.",
  'chart-failed': 'vega could not render a report chart (a bug in its spec; the message is vega’s).',
  'converter-not-installed': 'A teacher is a GraphModel, which needs the optional peer @tensorflow/tfjs-converter.',
  ...latencyErrorCodes,
} as const;

/** A code of `@kd/cli`'s own errors. */
export type CliErrorCode = keyof typeof cliErrorCodes;

/** An error `@kd/cli` throws with one of its own codes (see {@link cliErrorCodes}). */
export class CliError extends DistillationError<CliErrorCode> {
  constructor(code: CliErrorCode, message: string, options?: DistillationErrorOptions) {
    super(code, message, options);
    this.name = 'CliError';
  }
}
