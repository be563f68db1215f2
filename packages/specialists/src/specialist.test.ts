import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { leakedTensors, mlp, take } from '../test/helpers';
import { shiftDustbin, specialistModel } from './specialist';

describe('specialistModel', () => {
  it("copies the generalist; subset logits equal the generalist's, dustbin = mean of the rest + log|R| <= logsumexp", async () => {
    const generalist = mlp(6, 10, 7, 1, 'g');
    const x = tf.randomNormal([12, 6], 0, 1, 'float32', 2);
    const subset = [4, 1, 6];
    const rest = [0, 2, 3, 5];
    let specialist: tfl.LayersModel | undefined;
    expect(
      (await leakedTensors(() => {
        specialist = specialistModel(generalist, subset);
      })) - 4,
    ).toBe(0); // 4 new variables
    const s = specialist!;
    expect(s.outputs[0]!.shape).toEqual([null, 4]);
    expect(s.name).toBe('g_specialist_4_1_6');
    const zg = take(generalist.predict(x) as tf.Tensor);
    const zs = take(s.predict(x) as tf.Tensor);
    zs.forEach((row, b) => {
      const g = zg[b]!;
      subset.forEach((k, i) => expect(row[i]).toBeCloseTo(g[k]!, 5));
      const mean = rest.reduce((acc, k) => acc + g[k]!, 0) / rest.length;
      expect(row[3]).toBeCloseTo(mean + Math.log(rest.length), 5);
      const lse = Math.log(rest.reduce((acc, k) => acc + Math.exp(g[k]!), 0));
      expect(row[3]!).toBeLessThanOrEqual(lse + 1e-5);
    });
    // An independent copy: changing the specialist's body leaves the generalist alone.
    const before = take(generalist.predict(x) as tf.Tensor);
    const w = s.layers[0]!.getWeights();
    const zeros = w.map((t) => tf.zerosLike(t));
    s.layers[0]!.setWeights(zeros);
    tf.dispose(zeros);
    expect(take(generalist.predict(x) as tf.Tensor)).toEqual(before);
    tf.dispose(x);
    s.dispose();
    generalist.dispose();
  });

  it('works on a functional model and rejects heads that are not logits, and full subsets', () => {
    const input = tfl.input({ shape: [5] });
    const h = tfl.layers.dense({ units: 8, activation: 'relu', name: 'f_h' }).apply(input) as tfl.SymbolicTensor;
    const out = tfl.layers.dense({ units: 5, name: 'f_logits' }).apply(h) as tfl.SymbolicTensor;
    const functional = tfl.model({ inputs: input, outputs: out, name: 'f' });
    const s = specialistModel(functional, [0, 3], { name: 'fs' });
    expect(s.name).toBe('fs');
    expect(s.outputs[0]!.shape).toEqual([null, 3]);
    const x = tf.ones([2, 5]);
    const zg = take(functional.predict(x) as tf.Tensor);
    const zs = take(s.predict(x) as tf.Tensor);
    expect(zs[0]![1]).toBeCloseTo(zg[0]![3]!, 5);
    x.dispose();
    expect(() => specialistModel(functional, [0, 1, 2, 3, 4])).toThrow(/dustbin/);
    expect(() => specialistModel(functional, [0, 0])).toThrow(/repeats/);
    expect(() => specialistModel(functional, [7])).toThrow(/not in \[0, 5\)/);
    const soft = tfl.sequential();
    soft.add(tfl.layers.dense({ inputShape: [3], units: 4, activation: 'softmax' }));
    expect(() => specialistModel(soft, [0])).toThrow(/linear activation/);
    s.dispose();
    functional.dispose();
    soft.dispose();
  });

  it('shiftDustbin raises only the dustbin logit', async () => {
    const generalist = mlp(4, 6, 5, 3, 'g2');
    const s = specialistModel(generalist, [0, 2]);
    const x = tf.randomNormal([3, 4], 0, 1, 'float32', 1);
    const before = take(s.predict(x) as tf.Tensor);
    expect(await leakedTensors(() => shiftDustbin(s, Math.log(3)))).toBe(0);
    const after = take(s.predict(x) as tf.Tensor);
    after.forEach((row, b) => {
      expect(row[0]).toBeCloseTo(before[b]![0]!, 6);
      expect(row[1]).toBeCloseTo(before[b]![1]!, 6);
      expect(row[2]).toBeCloseTo(before[b]![2]! + Math.log(3), 5);
    });
    x.dispose();
    s.dispose();
    generalist.dispose();
  });
});
