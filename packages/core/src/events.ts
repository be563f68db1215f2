import { z } from 'zod';
import { optionsSchema, parseOptions } from './options';
/** Metrics of one evaluation: top-1 accuracy in [0, 1] and mean cross-entropy. */
export interface EvaluationResult {
  readonly accuracy: number;
  readonly loss: number;
}

/** What one epoch produced. */
export interface EpochLogs {
  readonly epoch: number;
  /** Mean weighted total loss over the epoch's steps. */
  readonly loss: number;
  /** Mean unweighted value of each term over the epoch's steps. */
  readonly terms: Readonly<Record<string, number>>;
  /** Learning rate of the epoch's last step. */
  readonly learningRate: number;
  /** The weight each plugin's terms had in this epoch (plugins with a loss, keyed by plugin name). */
  readonly weights: Readonly<Record<string, number>>;
  /** Wall-clock seconds of the epoch (training + validation). */
  readonly seconds: number;
  /** Validation metrics when `validation` data was given. */
  readonly validation?: EvaluationResult;
}

/** The typed progress stream of `Distiller.fit`. */
export type ProgressEvent =
  | {
      readonly type: 'fit-start';
      readonly epochs: number;
      readonly startEpoch: number;
      readonly stepsPerEpoch: number;
      readonly description: string;
      /**
       * Whether the teacher-output cache serves this fit, and if not why (e.g. the data is a
       * DataSource). Absent when no teacher runs or the cache is off by configuration.
       */
      readonly teacherCache?: { readonly active: boolean; readonly reason?: string };
    }
  | { readonly type: 'epoch-start'; readonly epoch: number; readonly epochs: number }
  | {
      readonly type: 'step-end';
      readonly epoch: number;
      readonly epochs: number;
      readonly step: number;
      readonly stepInEpoch: number;
      readonly stepsPerEpoch: number;
      readonly loss: number;
      readonly terms: Readonly<Record<string, number>>;
      readonly learningRate: number;
    }
  | { readonly type: 'epoch-end'; readonly epoch: number; readonly epochs: number; readonly logs: EpochLogs }
  | { readonly type: 'checkpoint'; readonly epoch: number; readonly step: number }
  | { readonly type: 'fit-end'; readonly history: readonly EpochLogs[] };

/** A consumer of progress events. */
export type ProgressListener = (event: ProgressEvent) => void | Promise<void>;

/** Where text goes: `process.stderr`, a file stream, or anything with `write`. */
export interface TextSink {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** Calls every listener in order; lets a fit have several consumers. */
export function fanOut(...listeners: ProgressListener[]): ProgressListener {
  return async (event) => {
    for (const listener of listeners) await listener(event);
  };
}

/** Writes every event as one JSON line (machine-readable logs). */
export function jsonLines(sink: TextSink): ProgressListener {
  return (event) => {
    sink.write(`${JSON.stringify(event)}\n`);
  };
}

/** Options of {@link progressBar}. */
export interface ProgressBarOptions {
  /** Text sink; default `process.stderr` where it exists. */
  readonly sink?: TextSink;
  /** Label printed before the bar. */
  readonly label?: string;
  /** Bar width in characters. Default 24. */
  readonly width?: number;
}

/** Schema of {@link ProgressBarOptions}. */
export const progressBarSchema = optionsSchema<ProgressBarOptions>()({
  sink: z
    .custom<TextSink>((v) => typeof (v as TextSink | null)?.write === 'function', { message: 'must be a sink with write(text)' })
    .optional(),
  label: z.string().optional(),
  width: z.number().int().min(1).max(400).default(24),
});

function format(value: number): string {
  return Math.abs(value) >= 100 || value === 0 ? value.toFixed(1) : value.toPrecision(4);
}

/**
 * A terminal progress bar: redraws one line per step on a TTY, and prints one line per epoch
 * (with terms and validation metrics) everywhere.
 */
export function progressBar(rawOptions: ProgressBarOptions = {}): ProgressListener {
  const options = parseOptions(progressBarSchema, rawOptions, 'progressBar');
  const sink: TextSink | undefined = options.sink ?? (typeof process !== 'undefined' ? (process.stderr as unknown as TextSink) : undefined);
  const width = options.width;
  const label = options.label ? `${options.label} ` : '';
  let started = Date.now();
  return (event) => {
    if (!sink) return;
    if (event.type === 'epoch-start') started = Date.now();
    if (event.type === 'step-end' && sink.isTTY) {
      const done = (event.stepInEpoch + 1) / event.stepsPerEpoch;
      const filled = Math.round(done * width);
      const seconds = (Date.now() - started) / 1000;
      const eta = done > 0 ? (seconds / done) * (1 - done) : 0;
      sink.write(
        `\r${label}epoch ${event.epoch + 1}/${event.epochs} [${'='.repeat(filled)}${' '.repeat(width - filled)}] ` +
          `${event.stepInEpoch + 1}/${event.stepsPerEpoch} loss ${format(event.loss)} eta ${eta.toFixed(0)}s   `,
      );
    }
    if (event.type === 'epoch-end') {
      const { logs } = event;
      const terms = Object.entries(logs.terms)
        .map(([k, v]) => `${k} ${format(v)}`)
        .join(' ');
      const validation = logs.validation
        ? ` | val acc ${(logs.validation.accuracy * 100).toFixed(2)}% loss ${format(logs.validation.loss)}`
        : '';
      sink.write(
        `${sink.isTTY ? '\r\x1b[2K' : ''}${label}epoch ${event.epoch + 1}/${event.epochs} loss ${format(logs.loss)} (${terms})${validation} ${logs.seconds.toFixed(1)}s\n`,
      );
    }
  };
}
