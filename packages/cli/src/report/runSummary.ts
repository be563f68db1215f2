import { z } from 'zod';
import { parseRunJson, schemaError } from './runFileErrors';

/** Metrics of one model on the evaluation split; `null` where the run could not measure them (no split). */
export interface ModelMetrics {
  /** Top-1 accuracy in [0, 1]. */
  readonly accuracy: number | null;
  /** Mean cross-entropy. */
  readonly loss: number | null;
}

/** One exported form of the student. */
export interface ExportedForm {
  readonly form: 'float32' | 'float16' | 'uint8';
  /** Size of the weights in bytes. */
  readonly bytes: number;
  /** Accuracy of the exported model on the evaluation split, in [0, 1]; `null` when not measured. */
  readonly accuracy: number | null;
  /** Mean prediction latency in milliseconds, when measured. */
  readonly latencyMs?: number;
}

/** A run's `summary.json`, as the report reads it. */
export interface SummaryFile {
  /** The run's name (the config's); the folder's name stands in when absent. */
  readonly name?: string;
  /** The tfjs backend the run trained on. */
  readonly backend: string;
  /** Wall-clock seconds of the whole run. */
  readonly wallSeconds: number;
  /** The split the metrics are of; `'test'` when absent. */
  readonly evaluatedOn?: 'test' | 'validation';
  readonly student: ModelMetrics;
  readonly teacher?: ModelMetrics;
  /** The best epoch by the run's validation metric, when it kept one. */
  readonly best?: { readonly epoch: number; readonly metric: string; readonly value: number };
  /** Where early stopping ended the run, if it did. */
  readonly stoppedEarly?: { readonly stage: string; readonly epoch: number };
  readonly exports?: readonly ExportedForm[];
}

// NaN metrics (no split to measure on) arrive as null: JSON has no NaN.
const fraction = z.number().min(0).max(1).nullable();
const metricsSchema = z.object({ accuracy: fraction, loss: z.number().nullable() });

const summarySchema = z.object({
  name: z.string().optional(),
  backend: z.string(),
  wallSeconds: z.number().nonnegative(),
  evaluatedOn: z.enum(['test', 'validation']).optional(),
  student: metricsSchema,
  teacher: metricsSchema.optional(),
  best: z.object({ epoch: z.number().int().nonnegative(), metric: z.string(), value: z.number() }).optional(),
  stoppedEarly: z.object({ stage: z.string(), epoch: z.number().int().nonnegative() }).optional(),
  exports: z
    .array(
      z.object({
        form: z.enum(['float32', 'float16', 'uint8']),
        bytes: z.number().int().nonnegative(),
        accuracy: fraction,
        latencyMs: z.number().nonnegative().optional(),
      }),
    )
    .optional(),
});

/**
 * Reads the text of a run's `summary.json` (fields the report does not use are ignored).
 *
 * @param text The file's content.
 * @param where How errors name the file.
 * @throws CliError `bad-run` naming the file (and the line of a JSON syntax error, or the field the schema rejects).
 */
export function parseRunSummary(text: string, where: string): SummaryFile {
  const parsed = summarySchema.safeParse(parseRunJson(text, where));
  if (!parsed.success) throw schemaError(parsed.error, where);
  return parsed.data as SummaryFile;
}
