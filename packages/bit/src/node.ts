/**
 * Node-only part of `@kd/bit`: BiT `.npz` checkpoints from the file system. Import from
 * `@kd/bit/node`.
 * @packageDocumentation
 */
import { readFile } from 'node:fs/promises';
import { inflateRawSync } from 'node:zlib';
import type * as tfl from '@tensorflow/tfjs-layers';
import { type AssignWeightsOptions, type AssignWeightsReport, assignBitWeights, type NpyArray, parseNpz } from './npz';

/** Reads a `.npz` file (stored or deflated entries) into arrays keyed by name (without `.npy`). */
export async function readNpzFile(path: string): Promise<Map<string, NpyArray>> {
  const bytes = new Uint8Array(await readFile(path));
  return parseNpz(bytes, (raw) => new Uint8Array(inflateRawSync(raw)), path);
}

/**
 * Loads a BiT checkpoint (`BiT-M-R50x1.npz` ...: a zip of `.npy` arrays, HWIO kernels) into a
 * model built by `bitResNet` / `resNetV2`, assigning every tensor by key. Fails, before assigning
 * anything, with the lists of missing keys, unexpected keys and shape mismatches.
 * `{ skipHead: true }` keeps the model's (e.g. zero-initialised) head, as BiT's fine-tuning does.
 */
export async function loadBitWeights(model: tfl.LayersModel, npzPath: string, options: AssignWeightsOptions = {}): Promise<AssignWeightsReport> {
  return assignBitWeights(model, await readNpzFile(npzPath), { source: npzPath, ...options });
}

export { type AssignWeightsOptions, type AssignWeightsReport, assignBitWeights, type NpyArray, parseNpz } from './npz';
