import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { isWasmPatched, PATCHED_KERNEL_NAMES, useWasmTraining } from '../src';
import { counts, maxRelError, report } from './helpers';

function convnet(): tfl.Sequential {
  const init = (seed: number) => tfl.initializers.glorotUniform({ seed });
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: [12, 12, 1], filters: 4, kernelSize: 3, activation: 'relu', kernelInitializer: init(1) }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tfl.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', depthwiseInitializer: init(2) }));
  m.add(tfl.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init(3) }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 10, kernelInitializer: init(4) }));
  return m;
}

/** One SGD step of the convnet from fixed weights; returns the updated weights. */
function trainStep(backend: 'cpu' | 'wasm'): Float32Array[] {
  tf.setBackend(backend);
  const model = convnet();
  const x = tf.randomNormal([8, 12, 12, 1], -0.5, 1, 'float32', 7);
  const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32'), 10);
  const optimizer = tf.train.sgd(0.1);
  const before = counts();
  optimizer.minimize(() => tf.losses.softmaxCrossEntropy(labels, model.apply(x) as tf.Tensor) as tf.Scalar);
  expect(counts().tensors).toBe(before.tensors); // SGD keeps no state
  const weights = model.getWeights().map((w) => w.dataSync().slice() as Float32Array);
  tf.dispose([x, labels]);
  model.dispose();
  optimizer.dispose();
  tf.setBackend('wasm');
  return weights;
}

describe('useWasmTraining', () => {
  it('reports every patched kernel once and is idempotent', async () => {
    expect(report.backend).toBe('wasm');
    expect(report.simd).toBe(true);
    expect(report.kernels.map((k) => k.kernel).sort()).toEqual([...PATCHED_KERNEL_NAMES].sort());
    expect(isWasmPatched()).toBe(true);
    const again = await useWasmTraining();
    expect(again.kernels).toEqual([]);
  });

  it('trains a conv/pool/depthwise/dense net exactly like cpu (one SGD step)', () => {
    const cpu = trainStep('cpu');
    const wasm = trainStep('wasm');
    expect(maxRelError(cpu, wasm)).toBeLessThan(1e-4);
  });
});
