import type { ProgressEvent, TextSink } from '@kd/core';

/** A progress consumer of `kd train`: each event with the name of the stage it belongs to. */
export type StageProgress = (event: ProgressEvent, stage: string) => void | Promise<void>;

function format(value: number): string {
  return Math.abs(value) >= 100 || value === 0 ? value.toFixed(1) : value.toPrecision(3);
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : s >= 60
      ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
      : `${s}s`;
}

/**
 * A progress bar for a terminal: one line redrawn every step with the epoch's bar, the whole
 * stage's progress and ETA, and the step's loss terms; one line kept per epoch (terms,
 * validation, seconds), each starting with the stage's name.
 */
export function terminalProgress(sink: TextSink, width = 20): StageProgress {
  let fitStarted = Date.now();
  let firstStep = 0;
  let stepsPerEpoch = 1;
  let epochs = 1;
  return (event, stage) => {
    if (event.type === 'fit-start') {
      fitStarted = Date.now();
      stepsPerEpoch = event.stepsPerEpoch;
      epochs = event.epochs;
      firstStep = event.startEpoch * event.stepsPerEpoch;
    }
    if (event.type === 'step-end') {
      const inEpoch = (event.stepInEpoch + 1) / event.stepsPerEpoch;
      const filled = Math.round(inEpoch * width);
      const total = epochs * stepsPerEpoch;
      const done = event.step + 1;
      const rate = (done - firstStep) / ((Date.now() - fitStarted) / 1000);
      const terms = Object.entries(event.terms)
        .map(([k, v]) => `${k} ${format(v)}`)
        .join(' ');
      sink.write(
        `\r\x1b[2K${stage} epoch ${event.epoch + 1}/${event.epochs} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` +
          `${event.stepInEpoch + 1}/${event.stepsPerEpoch} | all ${Math.floor((done / total) * 100)}% eta ${duration((total - done) / rate)} | loss ${format(event.loss)} (${terms})`,
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
        `\r\x1b[2K${stage} epoch ${event.epoch + 1}/${event.epochs} loss ${format(logs.loss)} (${terms})${validation} ${logs.seconds.toFixed(1)}s\n`,
      );
    }
  };
}

/** Every event as one JSON line with its stage (for logs and pipes). */
export function jsonProgress(sink: TextSink): StageProgress {
  return (event, stage) => {
    sink.write(`${JSON.stringify({ stage, ...event })}\n`);
  };
}
