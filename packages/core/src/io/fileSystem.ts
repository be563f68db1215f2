import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { DistillationError } from '../errors';
import { atomicWriteFile } from './atomicWriteFile';

const MODEL_FILE = 'model.json';
const WEIGHTS_FILE = 'weights.bin';

/**
 * A tfjs IO handler that saves to and loads from a directory as `model.json` + `weights.bin`
 * (the standard tfjs layout), with Node's `fs` — no tfjs-node needed. Writes are atomic; the
 * weights are written before `model.json`, so a visible `model.json` always has its weights.
 */
export function fileSystem(directory: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new DistillationError('bad-model', 'fileSystem: binary model topologies are not supported');
      }
      const weightData = artifacts.weightData
        ? tf.io.CompositeArrayBuffer.join(artifacts.weightData)
        : new ArrayBuffer(0);
      const model: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        weightsManifest: [{ paths: [`./${WEIGHTS_FILE}`], weights: artifacts.weightSpecs ?? [] }],
        ...(artifacts.format ? { format: artifacts.format } : {}),
        ...(artifacts.generatedBy ? { generatedBy: artifacts.generatedBy } : {}),
        ...(artifacts.convertedBy ? { convertedBy: artifacts.convertedBy } : {}),
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
        ...(artifacts.signature ? { signature: artifacts.signature } : {}),
        ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
      };
      await atomicWriteFile(join(directory, WEIGHTS_FILE), new Uint8Array(weightData));
      await atomicWriteFile(join(directory, MODEL_FILE), JSON.stringify(model));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      const modelPath = join(directory, MODEL_FILE);
      let json: tf.io.ModelJSON;
      try {
        json = JSON.parse(await readFile(modelPath, 'utf8'));
      } catch (error) {
        throw new DistillationError('model-not-found', `Cannot read ${modelPath}: ${(error as Error).message}`);
      }
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const path of group.paths) {
            const bytes = await readFile(join(directory, path));
            buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
          }
        }
        return [specs, tf.io.concatenateArrayBuffers(buffers)];
      });
    },
  };
}
