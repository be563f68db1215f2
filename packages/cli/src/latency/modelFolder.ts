import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DistillationError } from '@kd/core';

/**
 * Checks that `directory` holds a tfjs `model.json` and every weights file its manifest names,
 * so a bad folder fails in Node, naming the file, before any browser starts. Throws core's
 * `model-not-found`, `bad-model` or `truncated-weights`; `label` names the option in messages.
 */
export function checkModelFolder(directory: string, label: string): void {
  const manifestPath = join(directory, 'model.json');
  if (!existsSync(manifestPath)) throw new DistillationError('model-not-found', `${label}: no model.json in ${directory}`);
  let manifest: unknown;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch (cause) {
    throw new DistillationError('bad-model', `${label}: ${manifestPath} is not valid JSON (${(cause as Error).message})`, { cause });
  }
  const groups = (manifest as { weightsManifest?: unknown })?.weightsManifest;
  if (typeof manifest !== 'object' || manifest === null || !('modelTopology' in manifest) || !Array.isArray(groups))
    throw new DistillationError('bad-model', `${label}: ${manifestPath} is not a tfjs LayersModel (no modelTopology or weightsManifest)`);
  for (const group of groups as { paths?: unknown }[]) {
    for (const path of Array.isArray(group?.paths) ? group.paths : []) {
      if (typeof path !== 'string' || !existsSync(join(directory, path)))
        throw new DistillationError(
          'truncated-weights',
          `${label}: ${manifestPath} names weights file ${String(path)}, which is not in ${directory}`,
        );
    }
  }
}
