import { type EvaluationResult, evaluateModel } from '@kd/core';
import { openConfig } from '../config/openConfig';
import { CliError } from '../errors';
import { buildData } from '../run/buildData';
import { loadSavedModel } from '../run/buildModels';
import { chooseBackend } from '../run/chooseBackend';

/** Which split of a config's data `kd evaluate` reads. */
export type EvaluatedSplit = 'train' | 'validation' | 'test';

/**
 * `kd evaluate run.yaml --model DIR`: top-1 accuracy and cross-entropy of a saved model (a
 * student, a teacher, a quantised export; LayersModel or GraphModel) on a split of the config's
 * data, on the config's backend.
 */
export async function evaluateSaved(
  configFile: string,
  modelPath: string,
  split: EvaluatedSplit = 'test',
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<EvaluationResult & { readonly examples: number }> {
  const { where, resolved, registry, baseDirectory } = await openConfig(configFile);
  await chooseBackend(resolved.backend, where, log);
  const data = await buildData(resolved, registry, baseDirectory, where);
  try {
    const chosen = data[split];
    if (!chosen)
      throw new CliError('bad-config', `${where}: the data has no ${split} split (data.validation gives one; the source gives test)`);
    const model = await loadSavedModel(modelPath, process.cwd(), 'kd evaluate --model');
    try {
      const result = await evaluateModel(model, chosen);
      const examples = 'size' in chosen ? (chosen.size as number) : chosen.x.shape[0]!;
      return { ...result, examples };
    } finally {
      (model as { dispose?: () => void }).dispose?.();
    }
  } finally {
    data.dispose();
  }
}
