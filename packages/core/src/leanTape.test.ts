import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { kernelCounts as kernels, mlp, toyData } from '../test/helpers';
import { withLeanSaves } from './leanTape';

describe('withLeanSaves: tensors saved for the backward pass share their data instead of being cloned', () => {
  it('gives the same gradients bit for bit, with no Identity kernel, no leak, and restores the engine', () => {
    const model = mlp(8, 16, 3, 4);
    const data = toyData(32, 8, 3, 2);
    const loss = () =>
      tf.losses.softmaxCrossEntropy(tf.oneHot(tf.cast(data.y, 'int32') as tf.Tensor1D, 3), model.apply(data.x) as tf.Tensor) as tf.Scalar;
    const gradients = (lean: boolean) => {
      let out: number[][] = [];
      const counts = kernels(() => {
        const { value, grads } = lean ? withLeanSaves(() => tf.variableGrads(loss)) : tf.variableGrads(loss);
        out = [[value.dataSync()[0]!], ...Object.values(grads).map((g) => Array.from(g.dataSync()))];
        tf.dispose([value, ...Object.values(grads)]);
      });
      return { out, counts };
    };
    const plain = gradients(false);
    const before = tf.memory().numTensors;
    const lean = gradients(true);
    expect(tf.memory().numTensors).toBe(before);
    expect(lean.out).toEqual(plain.out);
    expect(plain.counts.Identity ?? 0).toBeGreaterThan(5);
    expect(lean.counts.Identity ?? 0).toBe(0);
    expect(Object.hasOwn(tf.engine(), 'clone')).toBe(false);
    // Disposing an input after the forward pass does not break the backward pass.
    const x = tf.clone(data.x);
    const g = withLeanSaves(() =>
      tf.grad((w: tf.Tensor) => {
        const y = tf.sum(tf.mul(tf.square(x), w)) as tf.Scalar;
        return y;
      })(tf.ones([32, 8])),
    );
    x.dispose();
    expect(Array.from(g.dataSync().slice(0, 3))).toEqual(Array.from(tf.square(data.x).dataSync().slice(0, 3)));
    g.dispose();
    model.dispose();
    tf.dispose([data.x, data.y]);
  });

  it('restores the engine when the computation throws', () => {
    expect(() =>
      withLeanSaves(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(Object.hasOwn(tf.engine(), 'clone')).toBe(false);
  });
});
