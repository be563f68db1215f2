import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, saveModel } from '@kd/core/node';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { golden } from '../test/golden';
import { leakedTensors, maxAbsDiff, tensorOf } from '../test/helpers';
import { GroupNormalization, StandardizedConv2D, standardizeWeight } from './layers';

describe('GroupNormalization (golden: PyTorch F.group_norm, float64)', () => {
  for (const c of golden.groupNorm) {
    it(`groups=${c.groups}, eps=${c.epsilon}: max |diff| < 2e-5`, async () => {
      const leaked = await leakedTensors(() => {
        const layer = new GroupNormalization({ groups: c.groups, epsilon: c.epsilon });
        const x = tensorOf(c.x);
        tf.dispose(layer.apply(x) as tf.Tensor); // builds
        const gamma = tensorOf(c.gamma);
        const beta = tensorOf(c.beta);
        layer.setWeights([gamma, beta]);
        const y = layer.apply(x) as tf.Tensor;
        expect(y.shape).toEqual(c.y.shape);
        expect(maxAbsDiff(y.dataSync(), c.y.values)).toBeLessThan(2e-5);
        tf.dispose([x, y, gamma, beta]);
        layer.dispose();
      });
      expect(leaked).toBe(0);
    });
  }

  it('defaults: 32 groups, eps 1e-5, gamma 1 and beta 0 per channel; rejects indivisible channels', () => {
    const layer = new GroupNormalization();
    expect(layer.groups).toBe(32);
    expect(layer.epsilon).toBe(1e-5);
    const x = tf.randomNormal([1, 2, 2, 64]);
    const y = layer.apply(x) as tf.Tensor;
    expect(layer.getWeights().map((w) => w.shape)).toEqual([[64], [64]]);
    expect(Array.from(layer.getWeights()[0]!.dataSync()).every((v) => v === 1)).toBe(true);
    expect(() => new GroupNormalization({ groups: 5 }).apply(tfl.input({ shape: [2, 2, 12] }))).toThrow(/not divisible into 5 groups/);
    tf.dispose([x, y]);
    layer.dispose();
  });
});

describe('StandardizedConv2D (golden: standardised F.conv2d, float64)', () => {
  for (const c of golden.standardizedConv) {
    it(`${c.variant}, kernel scale ${c.scale}, stride ${c.stride}, padding ${c.padding}`, async () => {
      const leaked = await leakedTensors(() => {
        const kernel = tensorOf(c.kernel);
        const std = standardizeWeight(kernel, c.variant);
        const tol = c.scale < 1e-3 ? 5e-4 : 2e-5;
        expect(maxAbsDiff(std.dataSync(), c.standardized.values)).toBeLessThan(tol);
        const [kh, kw, , filters] = c.kernel.shape as [number, number, number, number];
        const layer = new StandardizedConv2D({ filters, kernelSize: [kh, kw], strides: c.stride, standardization: c.variant });
        const x0 = tensorOf(c.x);
        const x = c.padding
          ? tf.pad(x0, [
              [0, 0],
              [c.padding, c.padding],
              [c.padding, c.padding],
              [0, 0],
            ])
          : x0;
        tf.dispose(layer.apply(x) as tf.Tensor);
        layer.setWeights([kernel]);
        const y = layer.apply(x) as tf.Tensor;
        expect(y.shape).toEqual(c.y.shape);
        expect(maxAbsDiff(y.dataSync(), c.y.values)).toBeLessThan(c.scale < 1e-3 ? 2e-3 : 5e-5);
        tf.dispose([kernel, std, x0, x, y]);
        layer.dispose();
      });
      expect(leaked).toBe(0);
    });
  }

  it('the three variants differ where the kernel variance is tiny (timm vs bit eps)', () => {
    const c = golden.standardizedConv.find((g) => g.scale < 1e-3 && g.variant === 'bit')!;
    const t = golden.standardizedConv.find((g) => g.scale < 1e-3 && g.variant === 'timm')!;
    expect(maxAbsDiff(c.standardized.values, t.standardized.values)).toBeGreaterThan(1e-2);
    const layer = new StandardizedConv2D({ filters: 2, kernelSize: 3 });
    expect([layer.epsilon, layer.standardization, layer.useBias]).toEqual([1e-10, 'bit', false]);
    expect(new StandardizedConv2D({ filters: 2, kernelSize: 3, standardization: 'timm' }).epsilon).toBe(1e-8);
    expect(new StandardizedConv2D({ filters: 2, kernelSize: 3, standardization: 'ws' }).epsilon).toBe(1e-5);
  });

  it('gradients flow through both layers (no leaks)', async () => {
    const model = tfl.sequential({
      layers: [
        new StandardizedConv2D({ filters: 8, kernelSize: 3, inputShape: [6, 6, 2], padding: 'same', name: 'c' }),
        new GroupNormalization({ groups: 4, name: 'g' }),
        tfl.layers.globalAveragePooling2d({}),
      ],
    });
    const x = tf.randomNormal([2, 6, 6, 2], 0, 1, 'float32', 1);
    const leaked = await leakedTensors(() => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(model.apply(x) as tf.Tensor)) as tf.Scalar);
      const norms = Object.values(grads).map((g) => tf.tidy(() => tf.norm(g).dataSync()[0]!));
      expect(Object.keys(grads)).toHaveLength(3);
      expect(norms.every((v) => Number.isFinite(v))).toBe(true);
      expect(norms.some((v) => v > 0)).toBe(true);
      tf.dispose([value, ...Object.values(grads)]);
    });
    expect(leaked).toBe(0);
    tf.dispose(x);
    model.dispose();
  });

  it('save / load round trip: model.json + weights with the custom layers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kd-bit-'));
    try {
      const model = tfl.sequential({
        layers: [
          new StandardizedConv2D({
            filters: 8,
            kernelSize: 3,
            strides: 2,
            inputShape: [8, 8, 1],
            standardization: 'timm',
            useBias: true,
            name: 'conv',
          }),
          new GroupNormalization({ groups: 2, epsilon: 1e-3, name: 'gn' }),
          tfl.layers.flatten({}),
          tfl.layers.dense({ units: 3 }),
        ],
      });
      const x = tf.randomUniform([2, 8, 8, 1], 0, 1, 'float32', 3);
      const before = model.predict(x) as tf.Tensor;
      await saveModel(model, dir);
      const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
      const classes = json.modelTopology.config.layers.map((l: { class_name: string }) => l.class_name);
      expect(classes).toContain('kd>StandardizedConv2D');
      expect(classes).toContain('kd>GroupNormalization');
      // Files written before the layers took the kd package name still load.
      const legacyDir = `${dir}-legacy`;
      cpSync(dir, legacyDir, { recursive: true });
      const legacyJson = readFileSync(join(legacyDir, 'model.json'), 'utf8')
        .replace('"kd>StandardizedConv2D"', '"StandardizedConv2D"')
        .replace('"kd>GroupNormalization"', '"Custom>GroupNormalization"');
      writeFileSync(join(legacyDir, 'model.json'), legacyJson);
      const legacy = await loadModel(legacyDir);
      expect(legacy.getLayer('conv')).toBeInstanceOf(StandardizedConv2D);
      expect(legacy.getLayer('gn')).toBeInstanceOf(GroupNormalization);
      const legacyOut = legacy.predict(x) as tf.Tensor;
      expect(maxAbsDiff(before.dataSync(), legacyOut.dataSync())).toBe(0);
      tf.dispose(legacyOut);
      legacy.dispose();
      rmSync(legacyDir, { recursive: true, force: true });
      const loaded = await loadModel(dir);
      const conv = loaded.getLayer('conv') as StandardizedConv2D;
      expect([conv.standardization, conv.epsilon, conv.useBias, conv.strides]).toEqual(['timm', 1e-8, true, [2, 2]]);
      expect((loaded.getLayer('gn') as GroupNormalization).epsilon).toBe(1e-3);
      const after = loaded.predict(x) as tf.Tensor;
      expect(maxAbsDiff(before.dataSync(), after.dataSync())).toBe(0);
      tf.dispose([x, before, after]);
      model.dispose();
      loaded.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
