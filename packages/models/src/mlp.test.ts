import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { kernelInitializer, liveTensors, parameterCount, refusal, weightValues } from '../test/helpers';
import { mlp } from './mlp';

const names = (model: ReturnType<typeof mlp>) => model.layers.map((l) => l.name);

describe('mlp', () => {
  it("two hidden layers without dropout: the benchmark's names, seeds and shapes", () => {
    const model = mlp({ name: 'student', hidden: [6, 5], seed: 700, classes: 3 });
    expect(model.layers.map((l) => [l.name, l.outputShape])).toEqual([
      ['student_flatten', [null, 784]],
      ['student_hidden', [null, 6]],
      ['student_pool', [null, 5]],
      ['student_logits', [null, 3]],
    ]);
    expect(['student_hidden', 'student_pool', 'student_logits'].map((n) => kernelInitializer(model.getLayer(n)))).toEqual([
      { kind: 'he-normal', seed: 700 },
      { kind: 'he-normal', seed: 701 },
      { kind: 'glorot-uniform', seed: 702 },
    ]);
    expect(parameterCount(model)).toBe(784 * 6 + 6 + (6 * 5 + 5) + (5 * 3 + 3));
    model.dispose();
  });

  it('other depths: the last hidden layer is _pool, the ones before _hidden, _hidden2, ...', () => {
    const one = mlp({ hidden: [4] });
    expect(names(one)).toEqual(['mlp_flatten', 'mlp_pool', 'mlp_logits']);
    const four = mlp({ hidden: [9, 8, 7, 6], seed: 3 });
    expect(names(four)).toEqual(['mlp_flatten', 'mlp_hidden', 'mlp_hidden2', 'mlp_hidden3', 'mlp_pool', 'mlp_logits']);
    expect(four.layers.slice(1).map((l) => kernelInitializer(l).seed)).toEqual([3, 4, 5, 6, 7]);
    expect(four.getLayer('mlp_pool').outputShape).toEqual([null, 6]);
    for (const m of [one, four]) m.dispose();
  });

  it('dropout > 0 adds a dropout layer after each hidden layer, active in training only', () => {
    const model = mlp({ hidden: [16, 8], dropout: 0.5, inputShape: [10] });
    expect(names(model)).toEqual(['mlp_hidden', 'mlp_dropout1', 'mlp_pool', 'mlp_dropout2', 'mlp_logits']);
    expect((model.getLayer('mlp_dropout1').getConfig() as { rate: number }).rate).toBe(0.5);
    const x = tf.randomNormal([4, 10], 0, 1, 'float32', 1);
    const [p, q] = [model.predict(x) as tf.Tensor, model.predict(x) as tf.Tensor];
    expect(Array.from(q.dataSync())).toEqual(Array.from(p.dataSync()));
    const trained = tf.tidy(() => Array.from((model.apply(x, { training: true }) as tf.Tensor).dataSync()));
    expect(trained).not.toEqual(Array.from(p.dataSync()));
    tf.dispose([x, p, q]);
    model.dispose();
  });

  it('a rank-1 example shape gets no flatten layer', () => {
    const model = mlp({ hidden: [5, 4], inputShape: [20], classes: 2 });
    expect(names(model)).toEqual(['mlp_hidden', 'mlp_pool', 'mlp_logits']);
    expect(model.inputs[0]!.shape).toEqual([null, 20]);
    expect(parameterCount(model)).toBe(20 * 5 + 5 + (5 * 4 + 4) + (4 * 2 + 2));
    model.dispose();
  });

  it('one seed gives the same weights bit for bit, another seed other weights', () => {
    const [a, b, c] = [mlp({ hidden: [8, 4], seed: 1 }), mlp({ hidden: [8, 4], seed: 1 }), mlp({ hidden: [8, 4], seed: 2 })];
    expect(weightValues(b)).toEqual(weightValues(a));
    const kernels = (m: typeof a) => weightValues(m).filter((_, i) => i % 2 === 0);
    kernels(c).forEach((kernel, i) => expect(kernel).not.toEqual(kernels(a)[i]));
    for (const m of [a, b, c]) m.dispose();
  });

  it('refuses bad options before building, naming the option', () => {
    const before = liveTensors();
    expect(refusal(() => mlp({ hidden: [] }))).toEqual({
      code: 'bad-option',
      message: 'mlp: option "hidden" must be a list of >= 1 items, got an array of 0',
    });
    expect(refusal(() => mlp({ hidden: [8], classes: 1 }))).toEqual({
      code: 'bad-option',
      message: 'mlp: option "classes" must be >= 2, got 1',
    });
    expect(refusal(() => mlp({ hidden: [8], dropout: 1 }))).toEqual({
      code: 'bad-option',
      message: 'mlp: option "dropout" must be < 1, got 1',
    });
    expect(refusal(() => mlp({ hidden: [8], dropuot: 0.1 } as never))).toEqual({
      code: 'unknown-option',
      message: 'mlp: unknown option "dropuot"; did you mean "dropout"? (known: name, hidden, seed, inputShape, classes, dropout)',
    });
    expect(liveTensors()).toBe(before);
  });

  it('leaves no tensor behind after predict and dispose', () => {
    const before = liveTensors();
    const model = mlp({ hidden: [4, 3], dropout: 0.2, inputShape: [6] });
    const logits = tf.tidy(() => model.predict(tf.ones([2, 6])) as tf.Tensor);
    expect(logits.shape).toEqual([2, 10]);
    logits.dispose();
    model.dispose();
    expect(liveTensors()).toBe(before);
  });
});
