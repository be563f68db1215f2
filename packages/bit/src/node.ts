/**
 * Node-only part of `@kd/bit`: BiT `.npz` checkpoints from the file system. Import from
 * `@kd/bit/node`.
 * @packageDocumentation
 */
import { readFile } from 'node:fs/promises';
import { inflateRawSync } from 'node:zlib';
import { DistillationError, ioError, parseOptions } from '@kd/core';
import * as tfl from '@tensorflow/tfjs-layers';
import { BitError } from './errors';
import {
  type AssignWeightsOptions,
  type AssignWeightsReport,
  assignBitWeights,
  assignBitWeightsSchema,
  type NpyArray,
  parseNpz,
} from './npz';

function checkPath(path: unknown, where: string): asserts path is string {
  if (typeof path !== 'string' || path === '') {
    throw new DistillationError(
      'bad-option',
      `${where}: path must be a non-empty string, got ${typeof path === 'string' ? "''" : String(path)}`,
    );
  }
}

/**
 * Reads a `.npz` file (stored or deflated entries) into arrays keyed by name (without `.npy`).
 * A file that cannot be read throws core's `io-error` (path, operation, `cause`).
 */
export async function readNpzFile(path: string): Promise<Map<string, NpyArray>> {
  checkPath(path, 'readNpzFile');
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (error) {
    throw ioError('read .npz file', path, error);
  }
  return parseNpz(bytes, (raw) => new Uint8Array(inflateRawSync(raw)), path);
}

/**
 * Loads a BiT checkpoint (`BiT-M-R50x1.npz` ...: a zip of `.npy` arrays, HWIO kernels) into a
 * model built by `bitResNet` / `resNetV2`, assigning every tensor by key. Fails, before assigning
 * anything, with the lists of missing keys, unexpected keys and shape mismatches.
 * `{ skipHead: true }` keeps the model's (e.g. zero-initialised) head, as BiT's fine-tuning does.
 */
export async function loadBitWeights(
  model: tfl.LayersModel,
  npzPath: string,
  options: AssignWeightsOptions = {},
): Promise<AssignWeightsReport> {
  const parsed = parseOptions(assignBitWeightsSchema, options, 'loadBitWeights');
  checkPath(npzPath, 'loadBitWeights');
  if (!(model instanceof tfl.LayersModel)) {
    throw new BitError('not-a-layers-model', `loadBitWeights: expected a tfjs LayersModel, got ${model === null ? 'null' : typeof model}`);
  }
  const source = options?.source ?? npzPath;
  return assignBitWeights(model, await readNpzFile(npzPath), { ...parsed, source });
}

export { BitError, type BitErrorCode, bitErrorCodes } from './errors';
export {
  type AssignWeightsOptions,
  type AssignWeightsReport,
  assignBitWeights,
  assignBitWeightsSchema,
  type NpyArray,
  parseNpz,
} from './npz';
