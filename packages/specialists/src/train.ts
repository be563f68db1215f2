import {
  type DataSource,
  DistillationError,
  Distiller,
  functionSchema,
  type History,
  hardLabel,
  isDataSource,
  type LabeledData,
  optionsSchema,
  type ProgressListener,
  parseOptions,
} from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import { type SpecialistSample, type SpecialistSampleOptions, sampleSpecialistDataSchema, sourceTrainingSet, trainingSet } from './sampler';
import { integer } from './schemas';
import { shiftDustbin } from './specialist';

/** Options of {@link trainSpecialist}. */
export interface TrainSpecialistOptions extends SpecialistSampleOptions {
  readonly optimizer: tf.Optimizer;
  readonly epochs: number;
  /** Default 32. */
  readonly batchSize?: number;
  readonly onEvent?: ProgressListener;
  /** Apply the oversampling correction to the dustbin bias after training. Default true. */
  readonly correctDustbin?: boolean;
}

/** Schema of {@link TrainSpecialistOptions} (defaults applied). */
export const trainSpecialistSchema = optionsSchema<TrainSpecialistOptions>()({
  ...sampleSpecialistDataSchema.shape,
  optimizer: z.custom<tf.Optimizer>((v) => typeof v === 'object' && v !== null && v instanceof tf.Optimizer, {
    message: 'must be a tf.Optimizer',
  }),
  epochs: integer(1),
  batchSize: integer(1).default(32),
  onEvent: functionSchema<ProgressListener>().optional(),
  correctDustbin: z.boolean().default(true),
});

/**
 * Trains a specialist (from {@link specialistModel}) with hard labels on its resampled data
 * ({@link specialistTrainingSet}: half subset, half other classes as dustbin), then adds
 * `sample.dustbinShift` to its dustbin logit. Uses `@kd/core`'s Distiller with `hardLabel` only.
 * Options, subset and data are checked before anything is created.
 *
 * `data` is `{ x, y }` tensors or a `DataSource`. A source must declare its `labels` (the sample
 * is drawn from them before anything is read; `no-labels` otherwise) and is checked with core's
 * `checkSource` (`bad-source`, `bad-input-shape` against the specialist's input); the specialist
 * then trains on a source over the sampled positions, read batch by batch (random access: the
 * same bits as the same data as tensors; front to back: the sample in stream order, shuffled by
 * the Distiller's buffer; see {@link specialistTrainingSet}).
 *
 * @example
 * ```ts
 * const source = csvSource(text, { ... }); // any DataSource with labels
 * const { sample } = await trainSpecialist(specialistModel(generalist, [3, 5]), source, [3, 5], { optimizer, epochs: 2 });
 * ```
 */
export async function trainSpecialist(
  model: tfl.LayersModel,
  data: LabeledData | DataSource,
  subset: readonly number[],
  input: TrainSpecialistOptions,
): Promise<{ history: History; sample: SpecialistSample }> {
  const options = parseOptions(trainSpecialistSchema, input, 'trainSpecialist');
  if (!(model instanceof tfl.LayersModel)) {
    throw new DistillationError(
      'bad-student',
      `trainSpecialist: the specialist must be a tfjs LayersModel (from specialistModel), got ${model === null ? 'null' : typeof model}`,
    );
  }
  const { data: set, sample } = isDataSource(data)
    ? sourceTrainingSet(data, subset, options, 'trainSpecialist', model.inputs[0]?.shape.slice(1))
    : trainingSet(data, subset, options, 'trainSpecialist');
  try {
    const distiller = new Distiller({ student: model, optimizer: options.optimizer, seed: options.seed }).use(hardLabel());
    let history: History;
    try {
      history = await distiller.fit(set, {
        epochs: options.epochs,
        batchSize: options.batchSize,
        ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      });
    } finally {
      distiller.dispose();
    }
    if (options.correctDustbin) shiftDustbin(model, sample.dustbinShift);
    return { history, sample };
  } finally {
    if (!isDataSource(set)) {
      set.x.dispose();
      set.y.dispose();
      set.teacherX?.dispose();
    }
  }
}
