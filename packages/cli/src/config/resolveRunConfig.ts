import { formatPath, lookupEntry, type MergedRegistry, parseOptions, type RegistryKind } from '@kd/core';
import type { LearningRateSpec, MethodSpec, ModelSpec, RunConfig, StageSpec } from './runConfigSchema';

/**
 * A run config whose every named part (source, builders, methods, optimizers, schedules) exists
 * in the loaded registry and whose options passed that part's own schema, defaults filled in:
 * what the run folder keeps as `config.resolved.json`, so a rerun a year later needs no default
 * of today's version. One-stage runs are stored as one stage named `train`.
 */
export interface ResolvedRunConfig extends Omit<RunConfig, 'methods' | 'stages' | 'optimizer' | 'learningRate'> {
  readonly stages: readonly ResolvedStage[];
  /** Whether the config gave `stages` (messages then point at `stages[i].methods[j]`, else at `methods[j]`). */
  readonly staged: boolean;
}

/** A stage with resolved methods, optimizer and schedule. */
export interface ResolvedStage extends Omit<StageSpec, 'methods' | 'optimizer' | 'learningRate'> {
  readonly methods: readonly MethodSpec[];
  readonly optimizer: { readonly name: string; readonly [key: string]: unknown };
  readonly learningRate?: LearningRateSpec;
}

/**
 * Checks every named part of `config` against `registry` (`unknown-name` with a "did you mean"
 * and the key path, e.g. `methods[2].method`) and parses its options with its schema
 * (`unknown-option` / `bad-option` with the path, e.g. `methods[2].weight`).
 */
export function resolveRunConfig(config: RunConfig, registry: MergedRegistry, where: string): ResolvedRunConfig {
  /** `at`: the path of the options; `nameAt`: the path of the key naming the entry. */
  const named = <K extends RegistryKind>(
    kind: K,
    name: string,
    options: unknown,
    at: readonly PropertyKey[],
    nameAt: readonly PropertyKey[] | string,
  ) => {
    const namePath = typeof nameAt === 'string' ? [...at, nameAt] : nameAt;
    const entry = lookupEntry(registry, kind, name, `${where}: ${formatPath(namePath)}`);
    return parseOptions(entry.schema, options, where, at) as Record<string, unknown>;
  };
  const method = (spec: MethodSpec, at: readonly PropertyKey[]): MethodSpec => {
    const { method: name, ...options } = spec;
    return { method: name, ...named('methods', name, options, at, 'method') };
  };
  const model = (spec: ModelSpec, at: readonly PropertyKey[]): ModelSpec =>
    spec.builder === undefined
      ? spec
      : { ...spec, options: named('models', spec.builder, spec.options ?? {}, [...at, 'options'], [...at, 'builder']) };
  const optimizer = (spec: { name: string }, at: readonly PropertyKey[]) => {
    const { name, ...options } = spec;
    return { name, ...named('optimizers', name, options, at, 'name') };
  };
  const learningRate = (spec: LearningRateSpec | undefined, at: readonly PropertyKey[]): LearningRateSpec | undefined => {
    if (spec === undefined || typeof spec === 'number') return spec;
    const { schedule, warmupSteps, ...options } = spec;
    return { schedule, ...(warmupSteps === undefined ? {} : { warmupSteps }), ...named('schedules', schedule, options, at, 'schedule') };
  };
  const data = {
    ...config.data,
    options: named('sources', config.data.source, config.data.options, ['data', 'options'], ['data', 'source']),
  };
  const rootOptimizer = optimizer(config.optimizer, ['optimizer']);
  const rootRate = learningRate(config.learningRate, ['learningRate']);
  const stages: ResolvedStage[] = config.stages
    ? config.stages.map((stage, i) => ({
        ...stage,
        methods: stage.methods.map((m, j) => method(m, ['stages', i, 'methods', j])),
        optimizer: stage.optimizer ? optimizer(stage.optimizer, ['stages', i, 'optimizer']) : rootOptimizer,
        // A stage with its own optimizer keeps that optimizer's rate unless it gives a schedule too.
        ...(stage.learningRate !== undefined
          ? { learningRate: learningRate(stage.learningRate, ['stages', i, 'learningRate']) }
          : rootRate !== undefined && !stage.optimizer
            ? { learningRate: rootRate }
            : {}),
      }))
    : [
        {
          name: 'train',
          epochs: config.training.epochs!,
          methods: config.methods!.map((m, j) => method(m, ['methods', j])),
          trainable: 'all',
          optimizer: rootOptimizer,
          ...(rootRate !== undefined ? { learningRate: rootRate } : {}),
        },
      ];
  const { methods: _methods, stages: _stages, optimizer: _optimizer, learningRate: _rate, ...rest } = config;
  const teacher = config.teacher && {
    ...config.teacher,
    ...(config.teacher.ensemble ? { ensemble: config.teacher.ensemble.map((m, i) => model(m, ['teacher', 'ensemble', i])) } : {}),
  };
  return {
    ...rest,
    data,
    student: model(config.student, ['student']),
    staged: config.stages !== undefined,
    ...(teacher ? { teacher } : {}),
    stages,
  };
}

/** Where the messages about stage `i`'s keys point: `stages[i].` in a staged config, nothing in a one-stage one. */
export function stagePath(config: { readonly staged: boolean }, i: number): string {
  return config.staged ? `stages[${i}].` : '';
}
