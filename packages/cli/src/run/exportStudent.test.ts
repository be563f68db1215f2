import { isDistillationError } from '@kd/core';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { quantizeArtifacts } from './exportStudent';

/** A dense layer then batch norm whose moving variances span 1e-4 .. 4 (a trained BN's range). */
async function bnArtifacts(): Promise<{ artifacts: tf.io.ModelArtifacts; variance: Float32Array }> {
  const input = tfl.input({ shape: [3] });
  const dense = tfl.layers.dense({ units: 4, name: 'm_dense' }).apply(input) as tfl.SymbolicTensor;
  const bn = tfl.layers.batchNormalization({ name: 'm_bn', epsilon: 1e-5 }).apply(dense) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: bn, name: 'm' });
  const variance = new Float32Array([1e-4, 0.006, 1.7, 4]);
  const layer = model.getLayer('m_bn');
  layer.setWeights(layer.getWeights().map((w, i) => (i === 3 ? tf.tensor1d(variance) : w)));
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
  return { artifacts: artifacts!, variance };
}

/** The float values of weight `name` as tfjs dequantises them. */
function weight(artifacts: tf.io.ModelArtifacts, name: string): Float32Array {
  const named = tf.io.decodeWeights(artifacts.weightData!, artifacts.weightSpecs!);
  const values = named[name]!.dataSync() as Float32Array;
  tf.dispose(Object.values(named));
  return values;
}

describe('quantizeArtifacts', () => {
  it('keeps batch-norm moving variances in float32 in the uint8 form by default; quantising them loses the small ones', async () => {
    const { artifacts, variance } = await bnArtifacts();
    const kept = quantizeArtifacts(artifacts, 'uint8');
    const spec = (a: tf.io.ModelArtifacts, name: string) => a.weightSpecs!.find((w) => w.name === name)!;
    expect(spec(kept, 'm_bn/moving_variance').quantization).toBeUndefined();
    expect(spec(kept, 'm_dense/kernel').quantization?.dtype).toBe('uint8');
    expect(Array.from(weight(kept, 'm_bn/moving_variance'))).toEqual(Array.from(variance));
    // Naming other weights replaces the default: the variances are then quantised in steps of
    // (4 - 1e-4) / 255 = 0.0157, so 0.006 comes back as 1e-4 and 1/sqrt(var + eps) grows ~7x.
    const quantised = quantizeArtifacts(artifacts, 'uint8', { keepFloat32: ['m_bn/gamma'] });
    expect(spec(quantised, 'm_bn/gamma').quantization).toBeUndefined();
    expect(spec(quantised, 'm_bn/moving_variance').quantization?.dtype).toBe('uint8');
    const back = weight(quantised, 'm_bn/moving_variance')[1]!;
    expect(Math.sqrt(0.006 + 1e-5) / Math.sqrt(back + 1e-5)).toBeGreaterThan(5);
  });

  it('refuses a keepFloat32 entry that matches no weight, listing the weights', async () => {
    const { artifacts } = await bnArtifacts();
    try {
      quantizeArtifacts(artifacts, 'uint8', { keepFloat32: ['moving_varaince'] });
      expect.unreachable();
    } catch (error) {
      expect(isDistillationError(error, 'bad-config')).toBe(true);
      expect((error as Error).message).toContain(
        'export.keepFloat32: "moving_varaince" matches no weight of the student (weights: m_dense/kernel',
      );
    }
  });
});
