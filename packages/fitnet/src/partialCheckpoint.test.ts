import '@tensorflow/tfjs-backend-cpu';
import { isDistillationError } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Translator } from './ft';
import { VariationalRegressor } from './vid';

await tf.setBackend('cpu');

/** Saved weights missing one entry must be refused, and must change nothing (a resume would not be exact). */
describe('a partial set of saved weights is refused before anything changes', () => {
  const cases = [
    ['VariationalRegressor', () => new VariationalRegressor([null, 4, 4, 2], [null, 4, 4, 3])],
    ['Translator', () => new Translator([null, 4, 4, 2], 3)],
  ] as const;
  it.each(cases)('%s', (_, make) => {
    const module = make();
    const live = module.weights();
    const keys = Object.keys(live);
    expect(keys.length).toBeGreaterThan(1);
    const before = keys.map((k) => Array.from(live[k]!.dataSync()));
    const saved = Object.fromEntries(keys.slice(1).map((k) => [k, tf.onesLike(live[k]!)]));
    const tensors = tf.memory().numTensors;
    let error: unknown;
    try {
      module.setWeights(saved);
    } catch (e) {
      error = e;
    }
    expect(isDistillationError(error, 'checkpoint-mismatch')).toBe(true);
    expect((error as Error).message).toContain(`lack "${keys[0]}"`);
    expect(keys.map((k) => Array.from(module.weights()[k]!.dataSync()))).toEqual(before);
    expect(tf.memory().numTensors).toBe(tensors);
    tf.dispose(Object.values(saved));
    module.dispose();
  });
});
