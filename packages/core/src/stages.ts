import type * as tf from '@tensorflow/tfjs-core';
import * as tfc from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import type { LabeledData } from './batch';
import { type Checkpoint, type CheckpointStore, fromRecord } from './checkpoint';
import { Distiller, type FitOptions, fitOptionsSchema, type History } from './distiller';
import { DistillationError, isDistillationError } from './errors';
import { functionSchema, optionsSchema, parseOptions } from './options';
import type { DistillationPlugin } from './plugin';
import type { DataSource } from './source';
import type { TeacherLike } from './teacher';

/** Which variables a stage trains (see {@link DistillerConfig.trainable}). */
export type TrainableFilter = (variable: tf.Variable) => boolean;

/**
 * One stage of a multi-stage run: its own plugins (hence its own loss), epoch count, optimizer
 * and choice of trained variables. The student (and teacher) carry over from stage to stage.
 */
export interface Stage {
  /** Shown in results and errors; unique within a run. */
  readonly name: string;
  /** The stage's plugins, in `use()` order. Fresh plugin objects: a stage sets them up itself. */
  readonly plugins: readonly DistillationPlugin<unknown>[];
  /** Epochs of this stage (counted from 0 within the stage). */
  readonly epochs: number;
  /** Optimizer of this stage (use a fresh one per stage; the caller disposes it). */
  readonly optimizer: tf.Optimizer;
  /** Which variables the stage trains; default all (student + the stage's plugin variables). */
  readonly trainable?: TrainableFilter;
  /** Any other `fit` option of the stage (batch size, learning rate, validation, events). */
  readonly fit?: Omit<FitOptions, 'epochs' | 'checkpoint' | 'resume' | 'checkpointEvery'>;
}

/** The shared parts of a multi-stage run. */
export interface StagedConfig {
  readonly student: tfl.LayersModel;
  readonly teacher?: TeacherLike;
  /** Seed of stage `i` is `seed + i`. Default 0. */
  readonly seed?: number;
  readonly stages: readonly Stage[];
  /** Saves a checkpoint after every epoch of every stage (and every `checkpointEvery` steps). */
  readonly checkpoint?: CheckpointStore;
  /** Continue from `checkpoint`'s last save: finished stages are skipped, the open one resumes exactly. */
  readonly resume?: boolean;
  /** Also save every this many steps inside epochs (see `FitOptions.checkpointEvery`). */
  readonly checkpointEvery?: number;
}

const stageSchema = optionsSchema<Stage>()({
  name: z.string().min(1, { message: 'must be a non-empty name' }),
  plugins: z
    .array(z.custom<DistillationPlugin<unknown>>((v) => typeof v === 'object' && v !== null, { message: 'must be a plugin' }))
    .min(1),
  epochs: z.number().int().nonnegative(),
  optimizer: z.custom<tf.Optimizer>((v) => v != null && v instanceof tfc.Optimizer, { message: 'must be a tf.Optimizer' }),
  trainable: functionSchema<TrainableFilter>().optional(),
  // The stage's own fit options; checkpoints are fitStages' (one store, stage-tagged saves).
  fit: fitOptionsSchema
    .omit({ epochs: true, checkpoint: true, resume: true, checkpointEvery: true })
    .partial()
    .optional() as unknown as z.ZodType<Stage['fit']>,
});

/** Schema of {@link StagedConfig}. */
export const stagedConfigSchema = optionsSchema<StagedConfig>()({
  student: z.custom<tfl.LayersModel>((v) => typeof v === 'object' && v !== null, { message: 'must be a LayersModel' }),
  teacher: z.custom<TeacherLike>(() => true).optional(),
  seed: z.number().int().optional(),
  stages: z.array(stageSchema).min(1).readonly(),
  checkpoint: z
    .custom<CheckpointStore>(
      (v) => typeof (v as CheckpointStore | null)?.save === 'function' && typeof (v as CheckpointStore).load === 'function',
      {
        message: 'must be a store with save() and load()',
      },
    )
    .optional(),
  resume: z.boolean().default(false),
  checkpointEvery: z.number().int().positive().optional(),
});

/** What a hook of {@link fitStages} sees. */
export interface StageInfo {
  readonly stage: Stage;
  readonly index: number;
  /** The stage's Distiller (its plugins are disposed right after `onStageEnd`). */
  readonly distiller: Distiller;
}

/** Hooks of {@link fitStages}. */
export interface StagedHooks {
  onStageStart?(info: StageInfo): void | Promise<void>;
  /** Runs after the stage's last epoch, before its plugins are disposed (read regressors here). */
  onStageEnd?(info: StageInfo & { readonly history: History }): void | Promise<void>;
}

/** The result of one stage. */
export interface StageResult {
  readonly name: string;
  readonly history: History;
}

/**
 * Trains one student through a list of stages, one {@link Distiller} per stage, e.g. FitNets'
 * two-stage schedule (Romero et al. 2015): stage 1 trains the student up to the guided layer plus
 * the regressor on the hint loss alone, stage 2 trains the whole student with knowledge
 * distillation. Each stage sets up its own plugins, trains the variables its `trainable` filter
 * accepts with its own optimizer, and disposes its plugins' state when it ends (the student keeps
 * what it learnt).
 *
 * @example
 * await fitStages({ student, teacher, stages: [
 *   { name: 'hints', plugins: [fitnet({ student: 's_h', teacher: 't_h' })], epochs: 5,
 *     optimizer: tf.train.sgd(0.05), trainable: trainStudentUpTo(student, 's_h') },
 *   { name: 'kd', plugins: [hardLabel(), softTargets({ temperature: 4 })], epochs: 10,
 *     optimizer: tf.train.sgd(0.05) },
 * ] }, data);
 */
export async function fitStages(rawConfig: StagedConfig, data: LabeledData | DataSource, hooks: StagedHooks = {}): Promise<StageResult[]> {
  const config = parseOptions(stagedConfigSchema, rawConfig, 'fitStages');
  const stages = config.stages;
  const names = new Set<string>();
  for (const stage of stages) {
    if (names.has(stage.name)) throw new DistillationError('bad-stage', `fitStages: two stages are named "${stage.name}"`);
    names.add(stage.name);
  }
  if (config.resume && !config.checkpoint) {
    throw new DistillationError('bad-option', 'fitStages: option "resume" needs a checkpoint store (option "checkpoint")');
  }
  const saved = config.resume ? await config.checkpoint!.load() : undefined;
  let first = 0;
  let resumeFirst = false;
  if (saved) {
    const at = saved.stage;
    if (!at || stages[at.index]?.name !== at.name) {
      throw new DistillationError(
        'checkpoint-mismatch',
        at
          ? `fitStages: the checkpoint belongs to stage ${at.index} "${at.name}", this run's stage ${at.index} is ${stages[at.index] ? `"${stages[at.index]!.name}"` : 'missing'}`
          : 'fitStages: the checkpoint was not written by fitStages',
      );
    }
    const finished = !saved.position && saved.epoch >= stages[at.index]!.epochs;
    if (finished) {
      setStudentWeights(config.student, saved);
      first = at.index + 1;
    } else {
      first = at.index;
      resumeFirst = true;
    }
  }
  const results: StageResult[] = [];
  for (let index = first; index < stages.length; index++) {
    const stage = stages[index]!;
    const distiller = new Distiller({
      student: config.student,
      ...(config.teacher !== undefined ? { teacher: config.teacher } : {}),
      optimizer: stage.optimizer,
      seed: (config.seed ?? 0) + index,
      ...(stage.trainable ? { trainable: stage.trainable } : {}),
    });
    try {
      for (const plugin of stage.plugins) distiller.use(plugin);
      await hooks.onStageStart?.({ stage, index, distiller });
      const store = config.checkpoint && tagStage(config.checkpoint, index, stage.name);
      const history = await distiller.fit(data, {
        ...stage.fit,
        epochs: stage.epochs,
        ...(store ? { checkpoint: store, resume: resumeFirst && index === first } : {}),
        ...(store && config.checkpointEvery ? { checkpointEvery: config.checkpointEvery } : {}),
      });
      await hooks.onStageEnd?.({ stage, index, distiller, history });
      results.push({ name: stage.name, history });
    } catch (error) {
      if (isDistillationError(error) && !error.message.startsWith('Stage "')) {
        error.message = `Stage "${stage.name}": ${error.message}`;
      }
      throw error;
    } finally {
      distiller.dispose();
    }
  }
  return results;
}

/** A store that marks every checkpoint with its stage. */
function tagStage(store: CheckpointStore, index: number, name: string): CheckpointStore {
  return {
    ...(store.description ? { description: store.description } : {}),
    ...(store.probe ? { probe: () => store.probe!() } : {}),
    save: (checkpoint) => store.save({ ...checkpoint, stage: { index, name } }),
    load: async () => {
      const saved = await store.load();
      return saved?.stage?.index === index ? saved : undefined;
    },
  };
}

/** Loads a finished stage's student weights (shapes checked first, nothing touched on mismatch). */
function setStudentWeights(student: tfl.LayersModel, checkpoint: Checkpoint): void {
  const weights = student.weights;
  const records = checkpoint.student;
  const bad = records.length !== weights.length || records.some((r, i) => r.shape.join(',') !== weights[i]!.shape.join(','));
  if (bad) {
    throw new DistillationError(
      'checkpoint-mismatch',
      `fitStages: the checkpoint's ${records.length} student weights do not fit the student "${student.name}"`,
    );
  }
  const tensors = records.map(fromRecord);
  try {
    student.setWeights(tensors);
  } finally {
    tfc.dispose(tensors);
  }
}

/**
 * The variables of the student's layers named `layers` (and only those), plus every variable
 * that does not belong to the student (plugin heads and regressors). Unknown names throw.
 */
export function trainStudentLayers(student: tfl.LayersModel, layers: readonly string[]): TrainableFilter {
  const available = student.layers.map((l) => l.name);
  for (const name of layers) {
    if (!available.includes(name)) {
      throw new DistillationError(
        'unknown-layer',
        `No layer named "${name}" in the student model "${student.name}". Available layers: ${available.join(', ')}`,
      );
    }
  }
  const studentVariables = new Set(student.weights.map((w) => w.read() as tf.Variable));
  const chosen = new Set(layers.flatMap((name) => student.getLayer(name).weights.map((w) => w.read() as tf.Variable)));
  return (variable) => !studentVariables.has(variable) || chosen.has(variable);
}

/**
 * The variables of `layer` and of every student layer it depends on (the student "up to the
 * guided layer", FitNets stage 1), plus every non-student variable (the hint regressor).
 */
export function trainStudentUpTo(student: tfl.LayersModel, layer: string): TrainableFilter {
  return trainStudentLayers(student, layersUpTo(student, layer));
}

/** Names of `layer` and of every layer of `model` that feeds it, directly or not. */
export function layersUpTo(model: tfl.LayersModel, layer: string): string[] {
  const available = model.layers.map((l) => l.name);
  if (!available.includes(layer)) {
    throw new DistillationError(
      'unknown-layer',
      `No layer named "${layer}" in the student model "${model.name}". Available layers: ${available.join(', ')}`,
    );
  }
  const seen = new Set<string>();
  const stack = [model.getLayer(layer)];
  while (stack.length > 0) {
    const current = stack.pop()!;
    if (seen.has(current.name)) continue;
    seen.add(current.name);
    for (const node of current.inboundNodes) for (const inbound of node.inboundLayers) stack.push(inbound);
  }
  return available.filter((name) => seen.has(name));
}
