import {
  DistillationError,
  type DistillationPlugin,
  type LearningRateSchedule,
  linearWarmup,
  lookupEntry,
  type MergedRegistry,
  type SharedModules,
  type Stage,
  type TrainableFilter,
  trainStudentLayers,
  trainStudentUpTo,
} from '@kd/core';
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { type ResolvedRunConfig, type ResolvedStage, stagePath } from '../config/resolveRunConfig';
import type { LearningRateSpec } from '../config/runConfigSchema';

/**
 * The plugins of a stage's methods, in the config's order. `modules` are the run's shared
 * modules (one object for every stage: FT's paraphraser crosses from one stage to the next); an
 * error of an entry's `create` (a shared module asked for with other options) names the method.
 */
export function buildPlugins(
  stage: ResolvedStage,
  registry: MergedRegistry,
  modules: SharedModules,
  where: string,
  at: string,
): DistillationPlugin<unknown>[] {
  return stage.methods.flatMap((spec, j) => {
    const { method, ...options } = spec;
    const entry = lookupEntry(registry, 'methods', method, `${where}: ${at}methods[${j}].method`);
    let made: ReturnType<typeof entry.create>;
    try {
      made = entry.create(options, modules);
    } catch (error) {
      if (error instanceof DistillationError) error.message = `${where}: ${at}methods[${j}] (${method}): ${error.message}`;
      throw error;
    }
    return (Array.isArray(made) ? made : [made]) as DistillationPlugin<unknown>[];
  });
}

/** A fixed rate, or a registered schedule (with its linear warm-up when `warmupSteps` is given). */
export function buildLearningRate(
  spec: LearningRateSpec | undefined,
  registry: MergedRegistry,
  where: string,
): number | LearningRateSchedule | undefined {
  if (spec === undefined || typeof spec === 'number') return spec;
  const { schedule: name, warmupSteps, ...options } = spec;
  const schedule = lookupEntry(registry, 'schedules', name, `${where}: learningRate.schedule`).create(options, {});
  return warmupSteps === undefined ? schedule : linearWarmup(schedule, warmupSteps);
}

function trainable(stage: ResolvedStage, student: tfl.LayersModel): TrainableFilter | undefined {
  const rule = stage.trainable;
  if (rule === 'all') return undefined;
  // The plugins' own variables only (FT's paraphraser stage): no student layer is chosen.
  if (rule === 'plugins') return trainStudentLayers(student, []);
  return 'upTo' in rule ? trainStudentUpTo(student, rule.upTo) : trainStudentLayers(student, rule.layers);
}

/** What `fitStages` needs of one stage, except the fit options the run adds. */
export interface BuiltStage {
  readonly stage: Omit<Stage, 'fit'>;
  readonly learningRate: number | LearningRateSchedule | undefined;
}

/**
 * The stages of a run: fresh plugins and a fresh optimizer each. On an error the optimizers
 * and plugins built so far are disposed.
 */
export function buildStages(
  config: ResolvedRunConfig,
  student: tfl.LayersModel,
  registry: MergedRegistry,
  modules: SharedModules,
  where: string,
): BuiltStage[] {
  const built: BuiltStage[] = [];
  try {
    config.stages.forEach((stage, i) => {
      const at = stagePath(config, i);
      const { name, ...options } = stage.optimizer;
      const optimizer = lookupEntry(registry, 'optimizers', name, `${where}: ${at}optimizer.name`).create(options, {}) as tf.Optimizer;
      const filter = trainable(stage, student);
      built.push({
        stage: {
          name: stage.name,
          epochs: stage.epochs,
          optimizer,
          plugins: buildPlugins(stage, registry, modules, where, at),
          ...(filter ? { trainable: filter } : {}),
        },
        learningRate: buildLearningRate(stage.learningRate, registry, where),
      });
    });
  } catch (error) {
    disposeStages(built);
    throw error;
  }
  return built;
}

/** Frees the optimizers of built stages (fitStages disposes the plugins of the stages it ran). */
export function disposeStages(stages: readonly BuiltStage[]): void {
  for (const { stage } of stages) stage.optimizer.dispose();
}
