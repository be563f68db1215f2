import '../test/helpers';
import { isDistillationError, type ModelContext, type ModelEntry, parseOptions } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import * as bit from './index';
import { bitResNet, bitResNetSmall, countParams } from './models';
import { registry } from './registry';

const context: ModelContext = { inputShape: [28, 28, 1], classes: 7, seed: 13, name: 'student' };

/** What the config-file runner does: parse the config's options with the entry's schema, then create. */
function fromConfig(name: 'bitResNet' | 'bitResNetSmall', options: unknown, run: ModelContext = context): tfl.LayersModel {
  const entry: ModelEntry = registry.models[name];
  return entry.create(parseOptions(entry.schema, options, 'student.options'), run);
}

function refusal(fn: () => unknown): { code: string; message: string } | undefined {
  try {
    fn();
  } catch (error) {
    return { code: isDistillationError(error) ? error.code : 'not-a-distillation-error', message: (error as Error).message };
  }
  return undefined;
}

/** The values of the named weights of `model`, by weight name. */
function weightsByName(model: tfl.LayersModel, names: readonly string[]): number[][] {
  const byName = new Map(model.weights.map((w) => [w.originalName, w]));
  return names.map((n) => Array.from(byName.get(n)!.read().dataSync()));
}

const values = (model: tfl.LayersModel) => model.getWeights().map((w) => Array.from(w.dataSync()));

describe('registry', () => {
  it('registers the two ResNet-v2 builders the index exports, and is exported as registry', () => {
    expect(Object.keys(registry.models).sort()).toEqual(['bitResNet', 'bitResNetSmall']);
    expect(bit.registry).toBe(registry);
    for (const name of Object.keys(registry.models)) expect(typeof (bit as Record<string, unknown>)[name]).toBe('function');
  });

  it('bitResNetSmall: the run supplies classes, input shape, seed and name the config leaves out', () => {
    const model = fromConfig('bitResNetSmall', { units: [1, 1, 1], strides: [2, 2, 2] });
    const direct = bitResNetSmall({ classes: 7, inputShape: [28, 28, 1], strides: [2, 2, 2], seed: 13, name: 'student' });
    expect(model.name).toBe('student');
    expect(model.inputs[0]!.shape).toEqual([null, 28, 28, 1]);
    expect(model.outputs[0]!.shape).toEqual([null, 7]);
    expect(countParams(model)).toBe(countParams(direct));
    expect(values(model)).toEqual(values(direct));
    const other = bitResNetSmall({ classes: 7, inputShape: [28, 28, 1], strides: [2, 2, 2], seed: 14 });
    expect(values(other)[0]).not.toEqual(values(model)[0]);
    for (const m of [model, direct, other]) m.dispose();
  });

  it("bitResNetSmall: the config's options win over the run", () => {
    const model = fromConfig('bitResNetSmall', { classes: 3, inputShape: [null, null, 3], seed: 2, name: 'tiny', width: 2, groups: 4 });
    const direct = bitResNetSmall({ classes: 3, inputShape: [null, null, 3], seed: 2, name: 'tiny', width: 2, groups: 4 });
    expect(model.name).toBe('tiny');
    expect(model.inputs[0]!.shape).toEqual([null, null, null, 3]);
    expect(model.outputs[0]!.shape).toEqual([null, 3]);
    expect(values(model)).toEqual(values(direct));
    for (const m of [model, direct]) m.dispose();
  });

  it('bitResNet: depth and width from the config, classes, input shape and seed from the run', () => {
    const before = tf.memory().numTensors;
    const run: ModelContext = { inputShape: [32, 32, 3], classes: 4, seed: 5, name: 'teacher' };
    const model = fromConfig('bitResNet', { depth: 50, width: 1, zeroHead: true }, run);
    expect(model.name).toBe('bit_r50x1');
    expect(model.inputs[0]!.shape).toEqual([null, 32, 32, 3]);
    expect(model.outputs[0]!.shape).toEqual([null, 4]);
    const direct = bitResNet({ depth: 50, width: 1, classes: 4, inputShape: [32, 32, 3], seed: 5, zeroHead: true });
    expect(countParams(model)).toBe(countParams(direct));
    const probe = ['resnet/root_block/standardized_conv2d/kernel', 'resnet/block4/unit03/c/standardized_conv2d/kernel'];
    expect(weightsByName(model, probe)).toEqual(weightsByName(direct, probe));
    expect(weightsByName(model, ['resnet/head/conv2d/kernel'])[0]!.every((v) => v === 0)).toBe(true);
    model.dispose();
    direct.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses a misspelt key with a suggestion, bad values and a run whose data are not images', () => {
    const before = tf.memory().numTensors;
    expect(refusal(() => fromConfig('bitResNet', { depth: 50, widht: 1 }))).toEqual({
      code: 'unknown-option',
      message:
        'student.options: unknown option "widht"; did you mean "width"? (known: depth, width, classes, zeroHead, inputShape, standardization, normalization, seed)',
    });
    expect(refusal(() => fromConfig('bitResNet', { depth: 34, width: 1 }))).toEqual({
      code: 'bad-option',
      message: 'student.options: option "depth" must be 50 or 101 or 152, got 34',
    });
    expect(refusal(() => fromConfig('bitResNetSmall', { unit: [1, 1, 1] }))?.message).toMatch(
      /^student\.options: unknown option "unit"; did you mean "units"\?/,
    );
    expect(refusal(() => fromConfig('bitResNetSmall', {}, { ...context, inputShape: [20] }))).toEqual({
      code: 'bad-option',
      message: `bitResNetSmall: the data's example shape [20] is not an image [height, width, channels]; set the option "inputShape"`,
    });
    expect(tf.memory().numTensors).toBe(before);
  });
});
