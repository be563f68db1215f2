import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { type DataSource, ensembleTeacher, ioError, type LabeledData, lookupEntry, type MergedRegistry, type TeacherLike } from '@kd/core';
import { fileSystem, loadModel } from '@kd/core/node';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { ModelSpec, TeacherSpec } from '../config/runConfigSchema';
import { CliError } from '../errors';
import { importPackage } from '../registry/loadRegistry';

/** The directory holding a `model.json`, from a path to the file or to its directory. */
export async function modelDirectory(path: string, baseDirectory: string): Promise<string> {
  const full = resolve(baseDirectory, path);
  try {
    return (await stat(full)).isDirectory() ? full : dirname(full);
  } catch (error) {
    throw ioError('find the model', full, error);
  }
}

/**
 * Loads a saved model: a LayersModel, or a GraphModel (`"format": "graph-model"`) through the
 * optional peer `@tensorflow/tfjs-converter` (teachers only: a GraphModel cannot be trained).
 */
export async function loadSavedModel(path: string, baseDirectory: string, what: string): Promise<tfl.LayersModel | TeacherLike> {
  const directory = await modelDirectory(path, baseDirectory);
  if (path.endsWith('.json') && basename(path) !== 'model.json') {
    throw new CliError(
      'bad-config',
      `${what}: "${path}": a saved model is a folder with model.json (tfjs' layout); give the folder or its model.json`,
    );
  }
  const manifestPath = resolve(directory, basename(path).endsWith('.json') ? basename(path) : 'model.json');
  let format: unknown;
  try {
    format = (JSON.parse(await readFile(manifestPath, 'utf8')) as { format?: unknown }).format;
  } catch {
    format = undefined; // loadModel reports a missing or malformed model.json with its own code
  }
  if (format !== 'graph-model') {
    try {
      return await loadModel(directory);
    } catch (error) {
      const unknown = /Unknown layer: ([\w>/-]+)/.exec(String((error as Error)?.message));
      if (!unknown) throw error;
      throw new CliError(
        'unknown-layer-class',
        `${what}: ${manifestPath} uses the layer class ${unknown[1]}, which no loaded package registers; add the package that defines it to "packages" (its registry import registers its layers)`,
        { cause: error },
      );
    }
  }
  let converter: { loadGraphModel(handler: unknown): Promise<TeacherLike> };
  try {
    converter = (await importPackage('@tensorflow/tfjs-converter', baseDirectory)) as unknown as typeof converter;
  } catch (error) {
    throw new CliError(
      'converter-not-installed',
      `${what}: ${manifestPath} is a GraphModel; install the optional peer @tensorflow/tfjs-converter to load it`,
      { cause: error },
    );
  }
  return converter.loadGraphModel(fileSystem(directory));
}

/** The student: a saved LayersModel or a registered builder's fresh model. */
export async function buildStudent(
  spec: ModelSpec,
  context: { registry: MergedRegistry; baseDirectory: string; inputShape: readonly number[]; classes: number; seed: number; where: string },
): Promise<tfl.LayersModel> {
  if (spec.model !== undefined) {
    const model = await loadSavedModel(spec.model, context.baseDirectory, `${context.where}: student.model`);
    if (typeof (model as tfl.LayersModel).fit !== 'function') {
      (model as { dispose?: () => void }).dispose?.();
      throw new CliError('bad-config', `${context.where}: "student.model" is a GraphModel, which cannot be trained; give a LayersModel`);
    }
    return model as tfl.LayersModel;
  }
  const entry = lookupEntry(context.registry, 'models', spec.builder, `${context.where}: student.builder`);
  return entry.create(spec.options ?? {}, {
    inputShape: context.inputShape,
    classes: context.classes,
    seed: spec.seed ?? context.seed,
    name: 'student',
  });
}

/** What the teacher of a run is, and what to dispose when the run ends. */
export interface BuiltTeacher {
  readonly teacher: TeacherLike;
  /** Teacher models to evaluate on their own (empty for a store). */
  readonly description: string;
  dispose(): void;
}

/** The teacher: one saved model, an ensemble of them, or a store of precomputed outputs. */
export async function buildTeacher(
  spec: TeacherSpec,
  baseDirectory: string,
  where: string,
  train?: LabeledData | DataSource,
): Promise<BuiltTeacher> {
  const disposeAll = (models: readonly unknown[]) => {
    for (const model of models) (model as { dispose?: () => void }).dispose?.();
  };
  if (spec.store !== undefined) {
    const module = (await importPackage('@kd/teacher-store/node', baseDirectory)) as unknown as {
      storedTeacher(dir: string, options?: { source?: LabeledData | DataSource }): Promise<TeacherLike & { dispose?: () => void }>;
    };
    // Checked against the run's training data: a store made for other examples (another seed,
    // limit or split) is store-source-mismatch, not another example's logits.
    const stored = await module.storedTeacher(resolve(baseDirectory, spec.store), train ? { source: train } : {});
    return { teacher: stored, description: `stored outputs at ${spec.store}`, dispose: () => stored.dispose?.() };
  }
  if (spec.ensemble) {
    const members: TeacherLike[] = [];
    let ensemble: TeacherLike;
    try {
      for (const [i, member] of spec.ensemble.entries())
        members.push(await loadSavedModel(member.model!, baseDirectory, `${where}: teacher.ensemble[${i}]`));
      ensemble = ensembleTeacher(members, { mean: spec.mean ?? 'arithmetic' });
    } catch (error) {
      disposeAll(members);
      throw error;
    }
    return {
      teacher: ensemble,
      description: `ensemble of ${members.length} (${spec.mean ?? 'arithmetic'} mean)`,
      dispose: () => disposeAll(members),
    };
  }
  const model = await loadSavedModel(spec.model!, baseDirectory, `${where}: teacher.model`);
  return { teacher: model, description: spec.model!, dispose: () => disposeAll([model]) };
}
