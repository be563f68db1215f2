import { z } from 'zod';
import { parseRunJson, schemaError } from './runFileErrors';

/** Test metrics of one model. */
export interface ModelMetrics {
  /** Top-1 accuracy in [0, 1]. */
  readonly accuracy: number;
  /** Mean cross-entropy. */
  readonly loss: number;
}

/** One exported form of the student. */
export interface ExportedForm {
  readonly form: 'float32' | 'float16' | 'uint8';
  /** Size of the weights in bytes. */
  readonly bytes: number;
  /** Test accuracy of the exported model, in [0, 1]. */
  readonly accuracy: number;
  /** Mean prediction latency in milliseconds, when measured. */
  readonly latencyMs?: number;
}

/** A run's `summary.json`. */
export interface RunSummary {
  /** The tfjs backend the run trained on. */
  readonly backend: string;
  /** Wall-clock seconds of the whole run. */
  readonly wallSeconds: number;
  readonly student: ModelMetrics;
  readonly teacher?: ModelMetrics;
  /** The best epoch by the run's checkpoint metric, when it kept one. */
  readonly best?: { readonly epoch: number; readonly metric: string; readonly value: number };
  readonly exports?: readonly ExportedForm[];
}

const metricsSchema = z.object({ accuracy: z.number().min(0).max(1), loss: z.number() });

const summarySchema = z.object({
  backend: z.string(),
  wallSeconds: z.number().nonnegative(),
  student: metricsSchema,
  teacher: metricsSchema.optional(),
  best: z.object({ epoch: z.number().int().nonnegative(), metric: z.string(), value: z.number() }).optional(),
  exports: z
    .array(
      z.object({
        form: z.enum(['float32', 'float16', 'uint8']),
        bytes: z.number().int().nonnegative(),
        accuracy: z.number().min(0).max(1),
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
 * @throws ReportError `bad-run` naming the file (and the line of a JSON syntax error, or the field the schema rejects).
 */
export function parseRunSummary(text: string, where: string): RunSummary {
  const parsed = summarySchema.safeParse(parseRunJson(text, where));
  if (!parsed.success) throw schemaError(parsed.error, where);
  return parsed.data as RunSummary;
}
