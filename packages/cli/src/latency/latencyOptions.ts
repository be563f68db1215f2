import { optionsSchema } from '@kd/core';
import { z } from 'zod';

/** One exported form of a model to time: its name in the report and its folder. */
export interface LatencyModel {
  /** The form's name in the results, e.g. `float32`, `float16`, `uint8`. Unique among the models. */
  readonly form: string;
  /** The folder holding the form's `model.json` and the weights files its manifest names. */
  readonly directory: string;
}

/** Options of {@link measureBrowserLatency}. Every value is JSON, so a config file can hold them. */
export interface BrowserLatencyOptions {
  /** The forms to time, in order (at least one). */
  readonly models: readonly LatencyModel[];
  /** Timed predictions per form. Default 30. */
  readonly runs?: number;
  /** Untimed predictions per form before the timed ones (JIT and allocator warm-up). Default 5. */
  readonly warmup?: number;
  /** Examples per prediction: the zeros batch is `[batchSize, ...inputShape]`. Default 1. */
  readonly batchSize?: number;
  /** The Chromium executable. Default `process.env.CHROMIUM_PATH`, else `/usr/bin/chromium`. */
  readonly executablePath?: string;
}

/** Schema of a {@link LatencyModel}. */
export const latencyModelSchema = optionsSchema<LatencyModel>()({
  form: z.string().min(1),
  directory: z.string().min(1),
});

/** Schema of {@link BrowserLatencyOptions} (strict: unknown keys are `unknown-option`). Defaults applied. */
export const browserLatencyOptionsSchema = optionsSchema<BrowserLatencyOptions>()({
  models: z.array(latencyModelSchema).min(1),
  runs: z.number().int().positive().default(30),
  warmup: z.number().int().nonnegative().default(5),
  batchSize: z.number().int().positive().default(1),
  executablePath: z.string().min(1).optional(),
});
