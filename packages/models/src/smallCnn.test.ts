import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { kernelInitializer, liveTensors, parameterCount, refusal, weightValues } from '../test/helpers';
import { smallCnn } from './smallCnn';

describe('smallCnn', () => {
  it("names the layers as the benchmark's CNN and gives each the shape of its place", () => {
    const model = smallCnn({ name: 'student', filters: [3, 5], dense: 7, inputShape: [12, 16, 2], classes: 4 });
    expect(model.name).toBe('student');
    expect(model.layers.map((l) => [l.name, l.outputShape])).toEqual([
      ['student_conv1', [null, 12, 16, 3]],
      ['student_block1', [null, 6, 8, 3]],
      ['student_conv2', [null, 6, 8, 5]],
      ['student_block2', [null, 3, 4, 5]],
      ['student_flatten', [null, 60]],
      ['student_pool', [null, 7]],
      ['student_logits', [null, 4]],
    ]);
    const conv1 = 3 * 3 * 2 * 3 + 3;
    const conv2 = 3 * 3 * 3 * 5 + 5;
    expect(parameterCount(model)).toBe(conv1 + conv2 + (3 * 4 * 5 * 7 + 7) + (7 * 4 + 4));
    model.dispose();
  });

  it('defaults to 28x28x1 inputs, 10 classes, seed 0 and the name cnn', () => {
    const model = smallCnn({ filters: [2, 4], dense: 8 });
    expect(model.name).toBe('cnn');
    expect(model.inputs[0]!.shape).toEqual([null, 28, 28, 1]);
    expect(model.outputs[0]!.shape).toEqual([null, 10]);
    expect(kernelInitializer(model.getLayer('cnn_conv1')).seed).toBe(0);
    model.dispose();
  });

  it('initialises with He normal at seed, seed + 1, seed + 2 and Glorot uniform at seed + 3 (biases zero)', () => {
    const model = smallCnn({ name: 'm', filters: [2, 4], dense: 8, seed: 40 });
    expect(['m_conv1', 'm_conv2', 'm_pool', 'm_logits'].map((n) => kernelInitializer(model.getLayer(n)))).toEqual([
      { kind: 'he-normal', seed: 40 },
      { kind: 'he-normal', seed: 41 },
      { kind: 'he-normal', seed: 42 },
      { kind: 'glorot-uniform', seed: 43 },
    ]);
    for (const layer of model.layers) {
      const bias = layer.getWeights()[1];
      if (bias) expect(Math.max(...Array.from(bias.dataSync()).map(Math.abs))).toBe(0);
    }
    model.dispose();
  });

  it('one seed gives the same weights bit for bit, another seed other weights', () => {
    const options = { filters: [3, 6], dense: 12, seed: 9 } as const;
    const [a, b, c] = [smallCnn(options), smallCnn(options), smallCnn({ ...options, seed: 10 })];
    expect(weightValues(b)).toEqual(weightValues(a));
    const kernels = (m: typeof a) => weightValues(m).filter((_, i) => i % 2 === 0);
    kernels(c).forEach((kernel, i) => expect(kernel).not.toEqual(kernels(a)[i]));
    for (const m of [a, b, c]) m.dispose();
  });

  it('refuses bad options before building, naming the option', () => {
    const before = liveTensors();
    expect(refusal(() => smallCnn({ filters: [8] as never, dense: 32 }))).toEqual({
      code: 'bad-option',
      message: 'smallCnn: option "filters" must be a list of >= 2 items, got an array of 1',
    });
    expect(refusal(() => smallCnn({ filters: [8, 16], dense: 32, classes: 1 }))).toEqual({
      code: 'bad-option',
      message: 'smallCnn: option "classes" must be >= 2, got 1',
    });
    expect(refusal(() => smallCnn({ filters: [8, 16], dense: 32, inputShape: [2, 28, 1] }))).toEqual({
      code: 'bad-option',
      message: 'smallCnn: option "inputShape[0]" must be >= 4, got 2',
    });
    expect(refusal(() => smallCnn({ filters: [8, 16], dense: 32, filter: [8, 16] } as never))).toEqual({
      code: 'unknown-option',
      message: 'smallCnn: unknown option "filter"; did you mean "filters"? (known: name, filters, dense, seed, inputShape, classes)',
    });
    expect(liveTensors()).toBe(before);
  });

  it('leaves no tensor behind after predict and dispose', () => {
    const before = liveTensors();
    const model = smallCnn({ filters: [2, 3], dense: 4, inputShape: [8, 8, 1], classes: 3 });
    const logits = tf.tidy(() => model.predict(tf.ones([2, 8, 8, 1])) as tf.Tensor);
    expect(logits.shape).toEqual([2, 3]);
    logits.dispose();
    model.dispose();
    expect(liveTensors()).toBe(before);
  });
});
