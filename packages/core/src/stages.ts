import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { LabeledData } from './batch';
import { Distiller, type FitOptions, type History } from './distiller';
import { DistillationError } from './errors';
import type { DistillationPlugin } from './plugin';
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
  readonly fit?: Omit<FitOptions, 'epochs' | 'checkpoint' | 'resume'>;
}

/** The shared parts of a multi-stage run. */
export interface StagedConfig {
  readonly student: tfl.LayersModel;
  readonly teacher?: TeacherLike;
  /** Seed of stage `i` is `seed + i`. Default 0. */
  readonly seed?: number;
  readonly stages: readonly Stage[];
}

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
export async function fitStages(config: StagedConfig, data: LabeledData, hooks: StagedHooks = {}): Promise<StageResult[]> {
  const stages = config?.stages;
  if (!Array.isArray(stages) || stages.length === 0) {
    throw new DistillationError('bad-option', 'fitStages: stages must be a non-empty list');
  }
  const names = new Set<string>();
  stages.forEach((stage, i) => {
    if (typeof stage?.name !== 'string' || stage.name === '') {
      throw new DistillationError('bad-option', `fitStages: stage ${i} needs a non-empty name`);
    }
    if (names.has(stage.name)) throw new DistillationError('bad-option', `fitStages: two stages are named "${stage.name}"`);
    names.add(stage.name);
    if (!Array.isArray(stage.plugins) || stage.plugins.length === 0) {
      throw new DistillationError('bad-option', `fitStages: stage "${stage.name}" has no plugins`);
    }
    if (!Number.isInteger(stage.epochs) || stage.epochs < 0) {
      throw new DistillationError('bad-option', `fitStages: stage "${stage.name}" epochs must be an integer >= 0, got ${stage.epochs}`);
    }
  });
  const results: StageResult[] = [];
  for (const [index, stage] of stages.entries()) {
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
      const history = await distiller.fit(data, { ...stage.fit, epochs: stage.epochs });
      await hooks.onStageEnd?.({ stage, index, distiller, history });
      results.push({ name: stage.name, history });
    } catch (error) {
      if (error instanceof DistillationError && !error.message.startsWith('Stage "')) {
        error.message = `Stage "${stage.name}": ${error.message}`;
      }
      throw error;
    } finally {
      distiller.dispose();
    }
  }
  return results;
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
