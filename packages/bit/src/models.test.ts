import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import { golden } from '../test/golden';
import { maxAbsDiff, npy, tensorOf, zip } from '../test/helpers';
import { bitResNet, bitResNetSmall, countParams, PRE_LOGITS, resNetV2 } from './models';
import { loadBitWeights } from './node';

const dir = mkdtempSync(join(tmpdir(), 'kd-bit-npz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const g = golden.tinyResNet;
function tinyModel(classes = g.classes): tfl.LayersModel {
  return resNetV2({
    inputShape: [null, null, 3],
    root: { filters: g.root, kernelSize: 7, stride: 2, pool: true },
    stages: g.stages,
    groups: g.groups,
    classes,
  });
}

function writeNpz(name: string, weights: Record<string, { shape: number[]; values: number[] }>): string {
  const entries = Object.entries(weights).map(([key, p], i) => ({
    name: `${key}.npy`,
    data: npy(p.shape, p.values),
    deflate: i % 2 === 0,
  }));
  const path = join(dir, name);
  writeFileSync(path, zip(entries));
  return path;
}

/** Parameters of R{depth}x{w} counted from the architecture in docs/methods.md §9.3. */
function bitParamCount(units: number[], w: number, classes: number): number {
  let total = 7 * 7 * 3 * 64 * w;
  let cin = 64 * w;
  units.forEach((n, i) => {
    const cout = 256 * w * 2 ** i;
    const cmid = cout / 4;
    for (let u = 0; u < n; u++) {
      total += 2 * cin + cin * cmid + 2 * cmid + 9 * cmid * cmid + 2 * cmid + cmid * cout;
      if (u === 0) total += cin * cout;
      cin = cout;
    }
  });
  return total + 2 * cin + cin * classes + classes;
}

describe('ResNet-v2 builders', () => {
  it('tiny BiT ResNet-v2 with weights from an .npz matches the PyTorch reference (golden)', async () => {
    const model = tinyModel();
    const path = writeNpz('tiny.npz', g.weights);
    const report = await loadBitWeights(model, path);
    expect(report.assigned).toHaveLength(Object.keys(g.weights).length);
    const x = tensorOf(g.x);
    const view = tfl.model({ inputs: model.inputs, outputs: [model.outputs[0]!, model.getLayer(PRE_LOGITS).output as tfl.SymbolicTensor] });
    const [logits, pre] = view.predict(x) as tf.Tensor[];
    expect(logits!.shape).toEqual(g.logits.shape);
    const dl = maxAbsDiff(logits!.dataSync(), g.logits.values);
    const dp = maxAbsDiff(pre!.dataSync(), g.preLogits.values);
    expect(dl).toBeLessThan(1e-4);
    expect(dp).toBeLessThan(1e-4);
    tf.dispose([x, logits!, pre!]);
    model.dispose();
  });

  it('loadBitWeights lists missing, unexpected and mismatched keys, and assigns nothing', async () => {
    const model = tinyModel(7);
    const weights = { ...g.weights };
    delete weights['resnet/block2/unit01/b/group_norm/gamma'];
    weights['resnet/block9/unit01/a/group_norm/gamma'] = { shape: [2], values: [1, 2] };
    const path = writeNpz('broken.npz', weights);
    const before = model.getWeights()[0]!.dataSync().slice();
    const error = await loadBitWeights(model, path).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toContain('missing keys (1): resnet/block2/unit01/b/group_norm/gamma');
    expect(message).toContain('unexpected keys (1): resnet/block9/unit01/a/group_norm/gamma');
    expect(message).toContain('shape mismatches (2): resnet/head/conv2d/kernel: file [1, 1, 64, 5] vs model [1, 1, 64, 7]');
    expect(Array.from(model.getWeights()[0]!.dataSync())).toEqual(Array.from(before));
    // skipHead: BiT's zero-head fine-tuning keeps the new head
    const fixed = writeNpz('ok.npz', g.weights);
    const zeroHead = resNetV2({
      ...{ inputShape: [null, null, 3] as [null, null, number] },
      root: { filters: g.root, kernelSize: 7, stride: 2, pool: true },
      stages: g.stages,
      groups: g.groups,
      classes: 7,
      zeroHead: true,
    });
    const report = await loadBitWeights(zeroHead, fixed, { skipHead: true });
    expect(report.skipped.sort()).toEqual(['resnet/head/conv2d/bias', 'resnet/head/conv2d/kernel']);
    const head = zeroHead.getLayer('resnet/head/conv2d').getWeights();
    expect(head.every((w) => w.dataSync().every((v) => v === 0))).toBe(true);
    model.dispose();
    zeroHead.dispose();
  });

  it('R50x1 has the reference layout and 25 549 352 parameters (1000 classes); not run', () => {
    const model = bitResNet({ depth: 50, width: 1, classes: 1000 });
    expect(countParams(model)).toBe(bitParamCount([3, 4, 6, 3], 1, 1000));
    expect(countParams(model)).toBe(25_549_352);
    const keys = model.weights.map((w) => w.originalName);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys).toContain('resnet/root_block/standardized_conv2d/kernel');
    expect(keys).toContain('resnet/block4/unit03/c/standardized_conv2d/kernel');
    expect(keys).toContain('resnet/block3/unit01/a/proj/standardized_conv2d/kernel');
    expect(keys).not.toContain('resnet/block3/unit02/a/proj/standardized_conv2d/kernel');
    expect(keys).toContain('resnet/group_norm/gamma');
    expect(keys).toContain('resnet/head/conv2d/bias');
    expect(model.weights.find((w) => w.originalName === 'resnet/block2/unit01/b/standardized_conv2d/kernel')!.shape).toEqual([
      3, 3, 128, 128,
    ]);
    // 4 kernels + 6 GN params per unit (+1 proj in the first unit of each block), root, head GN, head conv.
    expect(keys).toHaveLength(1 + 16 * 9 + 4 + 2 + 2);
    model.dispose();
  });

  it('small variants for 28x28 / 32x32: summary() and parameter counts', () => {
    const lines: string[] = [];
    const small = bitResNetSmall({ classes: 10 });
    small.summary(120, undefined, (line) => lines.push(line));
    expect(lines.join('\n')).toMatch(/Total params: 126,?458/);
    expect(countParams(small)).toBe(126_458);
    const cifar = bitResNetSmall({ classes: 100, inputShape: [32, 32, 3], units: [2, 2, 2], width: 2 });
    expect(cifar.outputs[0]!.shape).toEqual([null, 100]);
    expect(countParams(cifar)).toBeGreaterThan(countParams(small));
    const y = tf.tidy(() => (small.predict(tf.zeros([1, 28, 28, 1])) as tf.Tensor).shape);
    expect(y).toEqual([1, 10]);
    small.dispose();
    cifar.dispose();
  });

  it('validates its configuration', () => {
    expect(() => bitResNet({ depth: 34 as 50, width: 1, classes: 10 })).toThrow(/bitResNet: option "depth"/);
    expect(() => bitResNet({ depth: 50, width: 5 as 1, classes: 10 })).toThrow(/bitResNet: option "width"/);
    expect(() => bitResNetSmall({ classes: 10, groups: 32 })).toThrow(/divisible into 32 groups/);
  });
});
