import { parseOptions } from '@kd/core';
import { CliError } from '../errors';
import { type ModelSpec, type RunConfig, runConfigSchema, type TeacherSpec } from './runConfigSchema';

/**
 * Checks a config's shape (unknown keys with a "did you mean", wrong types, values out of
 * range, each with its key path) and the rules between keys, before anything is loaded. `where`
 * (the file name) starts every message. Methods' own options are checked later, against the
 * schemas of the packages the config loads.
 */
export function parseRunConfig(raw: unknown, where: string): RunConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new CliError('bad-config', `${where}: a run config is a mapping of keys (data, student, methods, ...), got ${describe(raw)}`);
  }
  const config = parseOptions(runConfigSchema, raw, where);
  if (config.methods && config.stages) throw new CliError('bad-config', `${where}: give "methods" (one stage) or "stages", not both`);
  if (!config.methods && !config.stages) throw new CliError('bad-config', `${where}: give "methods" (one stage) or "stages"`);
  if (config.methods && config.training.epochs === undefined) {
    throw new CliError('bad-config', `${where}: "training.epochs" is required with "methods" (stages give their own epochs)`);
  }
  if (config.stages && config.training.epochs !== undefined) {
    throw new CliError('bad-config', `${where}: "training.epochs" is for a one-stage run; with "stages" each stage gives its epochs`);
  }
  const stageNames = new Set<string>();
  config.stages?.forEach((stage, i) => {
    if (stageNames.has(stage.name))
      throw new CliError('bad-config', `${where}: "stages[${i}].name": "${stage.name}" is the name of an earlier stage`);
    stageNames.add(stage.name);
  });
  checkModel(config.student, 'student', where);
  if (config.teacher) checkTeacher(config.teacher, where);
  if (config.data.limit?.validation !== undefined && (config.data.validation === 'test' || config.data.validation === 'none')) {
    throw new CliError(
      'bad-config',
      config.data.validation === 'test'
        ? `${where}: "data.limit.validation" does nothing with "data.validation": 'test' (the validation data is the test split, limited by "data.limit.test")`
        : `${where}: "data.limit.validation" needs validation data ("data.validation": { fraction }, 'test' or 'source')`,
    );
  }
  for (const key of ['keepBest', 'earlyStopping'] as const) {
    if (config.training[key] && config.data.validation === 'none') {
      throw new CliError(
        'bad-config',
        `${where}: "training.${key}" needs validation data ("data.validation": { fraction }, 'test' or 'source')`,
      );
    }
  }
  return config;
}

function checkModel(spec: ModelSpec, at: string, where: string): void {
  const given = (['model', 'builder'] as const).filter((k) => spec[k] !== undefined);
  if (given.length !== 1) {
    throw new CliError(
      'bad-config',
      `${where}: "${at}" needs exactly one of "model" (a model.json) and "builder" (a registered builder)${given.length ? `, got both` : ''}`,
    );
  }
  if (spec.model !== undefined) {
    for (const key of ['options', 'seed'] as const) {
      if (spec[key] !== undefined)
        throw new CliError('bad-config', `${where}: "${at}.${key}" is for a builder; "${at}" loads a saved model`);
    }
  }
}

function checkTeacher(spec: TeacherSpec, where: string): void {
  if (spec.builder !== undefined || spec.ensemble?.some((m) => m.builder !== undefined)) {
    throw new CliError(
      'bad-config',
      `${where}: a teacher is a trained model: give its "model" (a model.json); a builder makes an untrained one`,
    );
  }
  const given = (['model', 'ensemble', 'store'] as const).filter((k) => spec[k] !== undefined);
  if (given.length !== 1) {
    throw new CliError(
      'bad-config',
      `${where}: "teacher" needs exactly one of "model", "ensemble" and "store"${given.length ? `, got ${given.map((k) => `"${k}"`).join(' and ')}` : ''}`,
    );
  }
  if (spec.mean !== undefined && spec.ensemble === undefined)
    throw new CliError('bad-config', `${where}: "teacher.mean" is for an ensemble`);
  if (spec.ensemble) spec.ensemble.forEach((member, i) => checkModel(member, `teacher.ensemble[${i}]`, where));
  else if (spec.store === undefined)
    checkModel({ model: spec.model, builder: spec.builder, options: spec.options, seed: spec.seed }, 'teacher', where);
  else if (spec.options !== undefined || spec.seed !== undefined)
    throw new CliError('bad-config', `${where}: "teacher.store" takes no options or seed`);
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null || value === undefined) return 'an empty document';
  return typeof value === 'string' ? `the text '${value.slice(0, 40)}'` : String(value);
}
