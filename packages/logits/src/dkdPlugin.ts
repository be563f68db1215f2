import {
  type DistillationPlugin,
  definePlugin,
  integerSchema,
  linearWarmupWeight,
  nameSchema,
  optionsSchema,
  parseOptions,
  type WeightSchedule,
  weightSchema,
} from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { checkLabelShape, checkLogitsPair } from './checks';
import { type DkdLossOptions, decoupledKd, dkdLossSchema } from './dkd';

/** Options of the {@link dkd} plugin. */
export interface DkdOptions extends DkdLossOptions {
  /**
   * Epochs of the linear warm-up of the term's weight: zero-based epoch `e` uses
   * `weight * min((e + 1) / warmupEpochs, 1)` (mdistiller's `min(epoch / warmup, 1)` with its
   * 1-based epochs), through `@kd/core`'s `linearWarmupWeight`. 0 turns the warm-up off. Default 20.
   */
  readonly warmupEpochs?: number;
  /** Weight of the term once warmed up (>= 0). Default 1 (mdistiller: DKD 1, cross-entropy 1). */
  readonly weight?: number;
  /** Plugin and loss-term name. Default `dkd`. */
  readonly name?: string;
}

/** Schema of {@link DkdOptions} (defaults applied). */
export const dkdSchema = optionsSchema<DkdOptions>()({
  ...dkdLossSchema.shape,
  warmupEpochs: integerSchema(0).default(20),
  weight: weightSchema.default(1),
  name: nameSchema.default('dkd'),
});

/** `name(T=4)`, with alpha and beta when they differ from the defaults. */
function dkdLabel(name: string, alpha: number, beta: number, temperature: number): string {
  const parts = [`T=${temperature}`, ...(alpha !== 1 ? [`alpha=${alpha}`] : []), ...(beta !== 8 ? [`beta=${beta}`] : [])];
  return `${name}(${parts.join(', ')})`;
}

/**
 * DKD (`dkdLoss`) as a plugin: term `dkd`, weighted by `weight` warmed up linearly over
 * `warmupEpochs` epochs (mdistiller's `min(epoch / warmup, 1)`, default 20), through `@kd/core`'s
 * `linearWarmupWeight`, so `describe()` prints e.g. `1*dkd(T=4, warm-up 20 epochs)` and the
 * epoch logs record the weight used. The teacher's distribution at T comes from
 * `outputs.teacher.logProbabilities(T)` (ensembles combine their members at T). Reads the batch's
 * integer labels (`labels: 'hard'`: a batch with soft MixUp targets is refused by the Distiller).
 * Combine it with `hardLabel()` for mdistiller's objective `ce + dkd`.
 *
 * @example
 * distiller.use(hardLabel()).use(dkd({ alpha: 1, beta: 8, temperature: 4, warmupEpochs: 20 }));
 */
export function dkd(options: DkdOptions = {}): DistillationPlugin<void> {
  const { alpha, beta, temperature, warmupEpochs, weight, name } = parseOptions(dkdSchema, options, 'dkd');
  const where = `Plugin "${name}"`;
  const scheduled: number | WeightSchedule = warmupEpochs === 0 ? weight : linearWarmupWeight({ value: weight, epochs: warmupEpochs });
  return definePlugin<void>({
    name,
    label: dkdLabel(name, alpha, beta, temperature),
    weight: scheduled,
    needsTeacher: true,
    labels: 'hard',
    loss({ student, teacher, batch }) {
      return tf.tidy(() => {
        const teacherLogProbabilities = teacher!.logProbabilities(temperature);
        checkLogitsPair(student.logits, teacherLogProbabilities, where, 'teacher log-probabilities');
        // The Distiller has checked every label against the class count; only the shape is checked here.
        checkLabelShape(batch.y, student.logits.shape[0], where);
        return decoupledKd(student.logits, teacherLogProbabilities, batch.y, alpha, beta, temperature);
      });
    },
  });
}
