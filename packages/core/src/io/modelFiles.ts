import type * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { fileSystem } from './fileSystem';

/**
 * Saves a model as `model.json` + `weights.bin` in `directory` (plain tfjs artefacts, loadable by
 * `tf.loadLayersModel` in any runtime). `metadata` (e.g. `distiller.metadata()`) is stored under
 * `userDefinedMetadata.kd`.
 */
export async function saveModel(model: tfl.LayersModel, directory: string, metadata?: Record<string, unknown>): Promise<tf.io.SaveResult> {
  if (metadata) {
    const previous = (model.getUserDefinedMetadata() ?? {}) as Record<string, unknown>;
    model.setUserDefinedMetadata({ ...previous, kd: metadata });
  }
  return model.save(fileSystem(directory));
}

/** Loads a LayersModel saved by {@link saveModel} (or any tfjs `model.json` + weights). */
export function loadModel(directory: string): Promise<tfl.LayersModel> {
  return tfl.loadLayersModel(fileSystem(directory));
}
