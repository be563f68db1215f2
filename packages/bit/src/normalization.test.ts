import '../test/helpers';
import { isDistillationError, type ModelEntry, parseOptions } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { bitResNet, bitResNetSmall, countParams, PRE_LOGITS } from './models';
import { registry } from './registry';

/** Logits of `bitResNetSmall({ classes: 10, rootStride: 2, seed: 5 })` on the input below, from the builder before `normalization` existed. */
const GOLDEN_DEFAULT = [
  0.9808252453804016, -0.2684510052204132, 0.1827886998653412, 0.1252804845571518, 0.3217804729938507, 0.20823588967323303,
  -0.5327736139297485, -0.13251003623008728, 1.208892583847046, -0.09669281542301178, 1.0273357629776, -0.012552136555314064,
  0.217084139585495, 0.13343264162540436, 0.4031827747821808, 0.21933794021606445, -0.3181212246417999, 0.04262227937579155,
  1.036669373512268, 0.07797849923372269,
];

const classes = (model: tfl.LayersModel) => model.layers.map((l) => l.getClassName());
const count = (model: tfl.LayersModel, cls: string) => classes(model).filter((c) => c === cls).length;

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isDistillationError(error) ? error.code : 'not-a-distillation-error';
  }
  return undefined;
}

describe("ResNet-v2 normalization: 'group-ws' (default) and 'batch'", () => {
  it('the default is unchanged bit for bit (golden logits) and equals an explicit group-ws', () => {
    const x = tf.randomUniform([2, 28, 28, 1], 0, 1, 'float32', 7);
    const [a, b] = [
      bitResNetSmall({ classes: 10, rootStride: 2, seed: 5 }),
      bitResNetSmall({ classes: 10, rootStride: 2, seed: 5, normalization: 'group-ws' }),
    ];
    const [ya, yb] = [a.predict(x) as tf.Tensor, b.predict(x) as tf.Tensor];
    expect(Array.from(ya.dataSync())).toEqual(GOLDEN_DEFAULT.map(Math.fround));
    expect(Array.from(yb.dataSync())).toEqual(Array.from(ya.dataSync()));
    expect(a.layers.map((l) => l.name)).toEqual(b.layers.map((l) => l.name));
    expect(count(a, 'BatchNormalization')).toBe(0);
    tf.dispose([x, ya, yb]);
    a.dispose();
    b.dispose();
  });

  it("'batch' replaces every GroupNorm by a BatchNorm and every StdConv by a plain bias-free Conv2D", () => {
    const gn = bitResNetSmall({ classes: 10, rootStride: 2, seed: 5 });
    const bn = bitResNetSmall({ classes: 10, rootStride: 2, seed: 5, normalization: 'batch' });
    expect(count(bn, 'kd>GroupNormalization') + count(bn, 'kd>StandardizedConv2D')).toBe(0);
    expect(count(bn, 'BatchNormalization')).toBe(count(gn, 'kd>GroupNormalization'));
    expect(count(bn, 'Conv2D')).toBe(count(gn, 'kd>StandardizedConv2D') + 1); // + the head's conv
    expect(bn.layers.map((l) => l.name)).toEqual(
      gn.layers.map((l) => l.name.replace(/standardized_conv2d$/, 'conv2d').replace(/group_norm$/, 'batch_norm')),
    );
    const conv = bn.getLayer('resnet/block1/unit01/a/conv2d');
    expect(conv.getConfig()['useBias']).toBe(false);
    expect(bn.getLayer('resnet/block1/unit01/b/batch_norm').getConfig()).toMatchObject({ momentum: 0.9, epsilon: 1e-5 });
    // Same conv kernels (same seeds); BN has 4 weights per channel where GN has 2 (moving mean/variance).
    const normChannels = gn.layers
      .filter((l) => l.getClassName() === 'kd>GroupNormalization')
      .reduce((s, l) => s + (l.getWeights()[0]!.shape[0] ?? 0), 0);
    expect(countParams(bn)).toBe(countParams(gn) + 2 * normChannels);
    expect(bn.getLayer('resnet/block1/unit01/a/conv2d').getWeights()[0]!.dataSync()).toEqual(
      gn.getLayer('resnet/block1/unit01/a/standardized_conv2d').getWeights()[0]!.dataSync(),
    );
    expect(bn.getLayer(PRE_LOGITS).outputShape).toEqual([null, 256]);
    gn.dispose();
    bn.dispose();
  });

  it("'batch' normalises with the batch's statistics in training and the moving ones in inference", () => {
    const model = bitResNetSmall({ classes: 4, rootStride: 2, seed: 1, normalization: 'batch' });
    const x = tf.randomUniform([3, 16, 16, 1], 0, 1, 'float32', 2);
    const before = tf.memory().numTensors;
    const inference = tf.tidy(() => Array.from((model.apply(x, { training: false }) as tf.Tensor).dataSync()));
    const training = tf.tidy(() => Array.from((model.apply(x, { training: true }) as tf.Tensor).dataSync()));
    expect(training).toHaveLength(12);
    expect(training).not.toEqual(inference);
    expect(tf.memory().numTensors).toBe(before);
    expect(model.trainableWeights.some((w) => w.name.includes('moving'))).toBe(false);
    x.dispose();
    model.dispose();
  });

  it("'batch' ignores groups (no groups-mismatch); bitResNet takes it too; a bad value is refused", () => {
    expect(code(() => bitResNetSmall({ classes: 3, groups: 3 }))).toBe('groups-mismatch');
    const m = bitResNetSmall({ classes: 3, groups: 3, normalization: 'batch' });
    expect(count(m, 'BatchNormalization')).toBe(10);
    m.dispose();
    const r50 = bitResNet({ depth: 50, width: 1, classes: 2, normalization: 'batch', inputShape: [32, 32, 3] });
    expect(count(r50, 'BatchNormalization')).toBe(3 * 16 + 1);
    r50.dispose();
    expect(code(() => bitResNetSmall({ classes: 3, normalization: 'bn' as never }))).toBe('bad-option');
  });

  it("the registry's bitResNetSmall entry takes normalization", () => {
    const entry: ModelEntry = registry.models['bitResNetSmall'];
    const model = entry.create(parseOptions(entry.schema, { normalization: 'batch' }, 'student.options'), {
      inputShape: [28, 28, 1],
      classes: 5,
      seed: 3,
      name: 'student',
    });
    expect(count(model, 'BatchNormalization')).toBe(10);
    expect(model.outputs[0]!.shape).toEqual([null, 5]);
    model.dispose();
  });
});
