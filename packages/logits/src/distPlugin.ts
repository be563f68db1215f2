import {
  type DistillationPlugin,
  definePlugin,
  nameSchema,
  optionsSchema,
  parseOptions,
  scheduledWeightSchema,
  type WeightSchedule,
} from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { checkLogitsPair } from './checks';
import { type DistLossOptions, distFromLogProbabilities, distLossSchema } from './dist';

/** Options of the {@link dist} plugin. */
export interface DistOptions extends DistLossOptions {
  /** Weight of the term: a number >= 0 or a `@kd/core` weight schedule. Default 1. */
  readonly weight?: number | WeightSchedule;
  /** Plugin and loss-term name. Default `dist`. */
  readonly name?: string;
}

/** Schema of {@link DistOptions} (defaults applied). */
export const distSchema = optionsSchema<DistOptions>()({
  ...distLossSchema.shape,
  weight: scheduledWeightSchema.default(1),
  name: nameSchema.default('dist'),
});

/** `name(T=1)`, with beta and gamma when they differ from the defaults. */
function distLabel(name: string, beta: number, gamma: number, temperature: number): string {
  const parts = [`T=${temperature}`, ...(beta !== 1 ? [`beta=${beta}`] : []), ...(gamma !== 1 ? [`gamma=${gamma}`] : [])];
  return `${name}(${parts.join(', ')})`;
}

/**
 * DIST (`distLoss`) as a plugin: term `dist`, the teacher's distribution at T from
 * `outputs.teacher.logProbabilities(T)` (ensembles combine their members at T). Reads no labels;
 * combine it with `hardLabel()` (the paper trains with cross-entropy weight 1 plus DIST).
 *
 * @example
 * distiller.use(hardLabel()).use(dist({ beta: 1, gamma: 1, temperature: 4 }));
 */
export function dist(options: DistOptions = {}): DistillationPlugin<void> {
  const { beta, gamma, temperature, weight, name } = parseOptions(distSchema, options, 'dist');
  const where = `Plugin "${name}"`;
  return definePlugin<void>({
    name,
    label: distLabel(name, beta, gamma, temperature),
    weight,
    needsTeacher: true,
    loss({ student, teacher }) {
      return tf.tidy(() => {
        const teacherLogProbabilities = teacher!.logProbabilities(temperature);
        checkLogitsPair(student.logits, teacherLogProbabilities, where, 'teacher log-probabilities');
        return distFromLogProbabilities(student.logits, teacherLogProbabilities, beta, gamma, temperature);
      });
    },
  });
}
