import '@tensorflow/tfjs-backend-cpu';
import { isDistillationError } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

await tf.setBackend('cpu');

/** The error `fn` throws, as `{ code, message }` (`code` `'not-a-distillation-error'` for any other). */
export function refusal(fn: () => unknown): { code: string; message: string } | undefined {
  try {
    fn();
  } catch (error) {
    return { code: isDistillationError(error) ? error.code : 'not-a-distillation-error', message: (error as Error).message };
  }
  return undefined;
}

/** Every weight of `model` as plain numbers, in the order of `model.getWeights()`. */
export function weightValues(model: tfl.LayersModel): number[][] {
  return model.getWeights().map((w) => Array.from(w.dataSync()));
}

/** The seed and kind of a layer's kernel initialiser, from its serialised config. */
export function kernelInitializer(layer: tfl.layers.Layer): { kind: string; seed: unknown } {
  const init = layer.getConfig()['kernelInitializer'] as { config: { mode: string; distribution: string; seed: unknown } };
  const kind = `${init.config.mode}-${init.config.distribution}`;
  return { kind: kind === 'fanIn-normal' ? 'he-normal' : kind === 'fanAvg-uniform' ? 'glorot-uniform' : kind, seed: init.config.seed };
}

/** Number of scalar weights of `model`. */
export function parameterCount(model: tfl.LayersModel): number {
  return model.weights.reduce((sum, w) => sum + w.shape.reduce<number>((a, b) => a * (b ?? 1), 1), 0);
}

/** Tensors alive now. */
export const liveTensors = (): number => tf.memory().numTensors;
