import { z } from 'zod';
import { CliError } from '../errors';
import { parseRunJson, schemaError } from './runFileErrors';

/** One epoch of a run as the report plots it (the `epoch-end` events of `logs.jsonl`). */
export interface EpochRecord {
  /** Stage name, for staged runs. */
  readonly stage?: string;
  /** Epoch as logged (0-based, counted within its stage). */
  readonly epoch: number;
  /** Position on the report's epoch axis: the epoch counted over the whole run (stages one after another). */
  readonly runEpoch: number;
  /** Mean weighted total loss. */
  readonly loss: number;
  /** Mean unweighted value of each loss term. */
  readonly terms: Readonly<Record<string, number>>;
  readonly learningRate: number;
  /** Weight of each plugin's terms in the epoch. */
  readonly weights: Readonly<Record<string, number>>;
  /** Wall-clock seconds of the epoch. */
  readonly seconds: number;
  /** Validation metrics, when the run had validation data. */
  readonly validation?: { readonly accuracy: number; readonly loss: number };
}

const eventLineSchema = z.object({ type: z.string({ message: 'must be an event type (a string)' }) });

const epochEndSchema = z.object({
  type: z.literal('epoch-end'),
  epoch: z.number().int().nonnegative(),
  epochs: z.number().int().nonnegative(),
  stage: z.string().optional(),
  logs: z.object({
    loss: z.number(),
    terms: z.record(z.string(), z.number()),
    learningRate: z.number(),
    weights: z.record(z.string(), z.number()),
    seconds: z.number().nonnegative(),
    validation: z.object({ accuracy: z.number().min(0).max(1), loss: z.number() }).optional(),
  }),
});

/**
 * The epochs of a run's `logs.jsonl` (one JSON progress event per line; blank lines and events
 * other than `epoch-end` are skipped; fields the report does not use are ignored). An epoch
 * logged twice (a resumed run appends) keeps its last line. Epochs come out in run order: stages
 * in the order they first appear, epochs ascending within a stage.
 *
 * @param text The file's content.
 * @param where How errors name the file.
 * @throws CliError `bad-run` naming the file and line of a line that is not JSON, not an event, or an `epoch-end` event of another shape.
 */
export function parseRunLogs(text: string, where: string): EpochRecord[] {
  const byKey = new Map<string, Omit<EpochRecord, 'runEpoch'>>();
  const stages: string[] = [];
  const stageLength = new Map<string, number>();
  const lines = text.split('\n');
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === '') return;
    const at = `${where} line ${index + 1}`;
    const value = parseRunJson(line, at, false);
    const event = eventLineSchema.safeParse(value);
    if (!event.success) throw new CliError('bad-run', `${at} is not a progress event: it needs a string "type".`);
    if (event.data.type !== 'epoch-end') return;
    const parsed = epochEndSchema.safeParse(value);
    if (!parsed.success) throw schemaError(parsed.error, at);
    const { epoch, epochs, stage, logs } = parsed.data;
    const stageKey = stage ?? '';
    if (!stageLength.has(stageKey)) stages.push(stageKey);
    stageLength.set(stageKey, Math.max(epochs, stageLength.get(stageKey) ?? 0, epoch + 1));
    byKey.set(`${stageKey}\u0000${epoch}`, {
      ...(stage !== undefined ? { stage } : {}),
      epoch,
      loss: logs.loss,
      terms: logs.terms,
      learningRate: logs.learningRate,
      weights: logs.weights,
      seconds: logs.seconds,
      ...(logs.validation ? { validation: logs.validation } : {}),
    });
  });
  const records: EpochRecord[] = [];
  let offset = 0;
  for (const stageKey of stages) {
    const ofStage = [...byKey.values()].filter((record) => (record.stage ?? '') === stageKey);
    ofStage.sort((a, b) => a.epoch - b.epoch);
    for (const record of ofStage) records.push({ ...record, runEpoch: offset + record.epoch });
    offset += stageLength.get(stageKey)!;
  }
  return records;
}
