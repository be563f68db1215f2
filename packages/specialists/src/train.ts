import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { Distiller, type History, hardLabel, type LabeledData, type ProgressListener } from '@kd/core';
import { type SpecialistSample, type SpecialistSampleOptions, specialistTrainingSet } from './sampler';
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

/**
 * Trains a specialist (from {@link specialistModel}) with hard labels on its resampled data
 * ({@link specialistTrainingSet}: half subset, half other classes as dustbin), then adds
 * `sample.dustbinShift` to its dustbin logit. Uses `@kd/core`'s Distiller with `hardLabel` only.
 */
export async function trainSpecialist(
  model: tfl.LayersModel,
  data: LabeledData,
  subset: readonly number[],
  options: TrainSpecialistOptions,
): Promise<{ history: History; sample: SpecialistSample }> {
  const { data: set, sample } = specialistTrainingSet(data, subset, options);
  try {
    const distiller = new Distiller({ student: model, optimizer: options.optimizer, seed: options.seed ?? 0 }).use(hardLabel());
    const history = await distiller.fit(set, {
      epochs: options.epochs,
      batchSize: options.batchSize ?? 32,
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    });
    distiller.dispose();
    if (options.correctDustbin !== false) shiftDustbin(model, sample.dustbinShift);
    return { history, sample };
  } finally {
    set.x.dispose();
    set.y.dispose();
    set.teacherX?.dispose();
  }
}
