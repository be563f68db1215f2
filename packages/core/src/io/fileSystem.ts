import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { DistillationError, ioError } from '../errors';
import { atomicWriteFile, removeStaleTemporaries } from './atomicWriteFile';

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
      const weightData = artifacts.weightData ? tf.io.CompositeArrayBuffer.join(artifacts.weightData) : new ArrayBuffer(0);
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
      // Temporary files of a save that was killed are removed before this one writes.
      for (const file of [WEIGHTS_FILE, MODEL_FILE]) await removeStaleTemporaries(join(directory, file));
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
        if ((error as { code?: string }).code === 'ENOENT') {
          throw new DistillationError('model-not-found', `No model at "${directory}": ${modelPath} does not exist`, { cause: error });
        }
        if (error instanceof SyntaxError) {
          throw new DistillationError('bad-model', `${modelPath} is not valid JSON: ${error.message}`, { cause: error });
        }
        throw ioError('read', modelPath, error);
      }
      if (!Array.isArray(json?.weightsManifest)) {
        throw new DistillationError('bad-model', `${modelPath} has no weightsManifest: not a tfjs model.json`);
      }
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const path of group.paths) {
            const file = join(directory, path);
            const bytes = await readFile(file).catch((error: { code?: string }) => {
              if (error?.code === 'ENOENT') {
                throw new DistillationError('truncated-weights', `${modelPath} names weights file "${path}", which does not exist`, {
                  cause: error,
                });
              }
              throw ioError('read', file, error);
            });
            buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
          }
        }
        const needed = specs.reduce((sum, spec) => sum + weightBytes(spec), 0);
        const found = buffers.reduce((sum, b) => sum + b.byteLength, 0);
        if (found < needed) {
          const files = manifest.flatMap((g) => g.paths).join(', ');
          throw new DistillationError(
            'truncated-weights',
            `The weights of ${modelPath} (${files}) hold ${found} bytes, the manifest's ${specs.length} tensors need ${needed}: the file is truncated`,
          );
        }
        return [specs, tf.io.concatenateArrayBuffers(buffers)];
      });
    },
  };
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, float16: 2, string: 0, complex64: 8 };

/** Bytes a weight takes in a weights file (quantised weights use their storage dtype). */
function weightBytes(spec: tf.io.WeightsManifestEntry): number {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  return count * (BYTES[dtype] ?? 4);
}
