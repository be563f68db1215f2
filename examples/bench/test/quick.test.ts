import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useBestBackend } from '@kd/backend-gpu';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { QUICK_SIZES } from '../src/quality/models';
import { curvesSvg, gapSvg, markdown, summarize } from '../src/quality/report';
import {
  correctedAccuracy,
  DEFAULT_HYPER,
  METHODS,
  OMITTED_BIAS_GRID,
  OMITTED_METHODS,
  runQuality,
  SPATIAL_METHODS,
} from '../src/quality/run';

const hasData = existsSync('/usr/share/datasets/fashion-mnist');

describe.skipIf(!hasData)('kd-bench --quick (tiny sizes)', () => {
  it('runs every method on both pairs and regimes, writes JSON, markdown and SVG, leaks nothing', async () => {
    // The patched wasm backend, as the real runs (`pnpm --filter kd-bench quality -- --quick`), at
    // an even smaller size than `--quick`.
    await useBestBackend('wasm');
    const out = mkdtempSync(join(tmpdir(), 'kd-bench-'));
    const before = tf.memory().numTensors;
    const result = await runQuality({
      seeds: [1, 2],
      trainSize: 256,
      validationSize: 64,
      smallSize: 96,
      omittedClass: 3,
      testSize: 128,
      epochs: 1,
      teacherEpochs: 1,
      batchSize: 32,
      learningRate: 0.001,
      sizes: { ...QUICK_SIZES, teacher: [4, 8, 16], cnnStudent: [2, 4, 8] },
      pairs: ['cnn', 'mlp'],
      regimes: ['full', 'small', 'omitted'],
      methods: METHODS,
      hyper: { ...DEFAULT_HYPER, negatives: 32, featureDim: 16 },
      out,
      backend: 'cpu',
      log: () => {},
    });
    expect(tf.memory().numTensors).toBe(before);
    // Per seed: CNN every method in regimes i and ii, MLP all but the spatial ones (AT, NST, VID), regime iii scratch + KD.
    const perSeed = 2 * METHODS.length + 2 * (METHODS.length - SPATIAL_METHODS.length) + 2 * OMITTED_METHODS.length;
    expect(result.runs).toHaveLength(2 * perSeed);
    expect(result.runs.some((r) => r.pair === 'mlp' && r.method === 'at')).toBe(false);
    expect(result.runs.filter((r) => r.pair === 'cnn' && r.method === 'at')).toHaveLength(4);
    const omitted = result.runs.filter((r) => r.regime === 'omitted');
    expect(omitted.map((r) => r.method).sort()).toEqual(['kd', 'kd', 'kd', 'kd', 'scratch', 'scratch', 'scratch', 'scratch']);
    for (const r of omitted) {
      // The pool minus every example of class 3; the correction is picked on validation from the grid.
      expect(r.examples).toBeLessThan(256);
      expect(r.examples).toBeGreaterThan(256 * 0.8);
      expect(OMITTED_BIAS_GRID).toContain(r.omitted!.bias);
      expect(r.omitted!.classExamples).toBeGreaterThan(0);
      expect(r.omitted!.testBefore).toBe(r.lastTest);
    }
    expect(markdown(result)).toContain('Omitted class 3');
    expect(result.teachers.every((t) => t.loaded === false)).toBe(true);
    for (const r of result.runs) {
      expect(r.lastTest).toBeGreaterThanOrEqual(0);
      expect(r.curve.length).toBe(1);
      // The teacher is cached wherever the (last) stage uses it; scratch, and AB / FSP after their init stage, train on labels alone.
      if (!['scratch', 'scratch-wide', 'ab', 'fsp'].includes(r.method) && r.regime === 'small')
        expect(r.teacherCacheHits).toBeGreaterThan(0);
    }
    // AB's and FSP's init stage ran on the method alone, and its loss fell.
    for (const r of result.runs.filter((x) => x.method === 'ab' || x.method === 'fsp')) {
      expect(r.initStage!.epochs).toBe(10);
      expect(r.initStage!.lastLoss).toBeLessThan(r.initStage!.firstLoss);
    }
    expect(result.runs.filter((r) => r.initStage).length).toBe(2 * 2 * 2); // ab, fsp x 2 seeds x (full, small), CNN only
    // Same step count in both regimes (within one epoch of the small set).
    const full = result.runs.find((r) => r.regime === 'full')!.steps;
    const small = result.runs.find((r) => r.regime === 'small')!.steps;
    expect(Math.abs(full - small)).toBeLessThanOrEqual(Math.ceil(96 / 32));
    expect(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).runs).toHaveLength(result.runs.length);
    expect(summarize(result)).toHaveLength(perSeed);
    // The main table's rows plus the omitted-class table's (one per pair and method).
    expect(
      markdown(result)
        .split('\n')
        .filter((l) => l.startsWith('| cnn') || l.startsWith('| mlp')),
    ).toHaveLength(perSeed + 4);
    // vega-lite charts: one line mark per method and the teacher's rule; bars with error rules.
    const curves = await curvesSvg(result, 'cnn', 'small');
    expect(curves).toMatch(/^<svg[\s\S]*<\/svg>$/);
    for (const method of new Set(result.runs.map((r) => r.method))) expect(curves).toContain(`>${method}</text>`);
    expect(curves).toContain('mark-line');
    expect(curves).toContain('mark-rule');
    const gap = await gapSvg(result);
    expect(gap).toContain('kd+crd+fitnet');
    expect(gap).toContain('mark-rect');
    // The second run reuses the saved teachers.
    const again = await runQuality({
      ...result.options,
      seeds: [1],
      methods: ['scratch'],
      pairs: ['mlp'],
      regimes: ['small'],
      log: () => {},
    });
    expect(again.teachers[0]!.loaded).toBe(true);
    expect(again.teachers[0]!.test).toBe(result.teachers[0]!.test);
    rmSync(out, { recursive: true, force: true });
  });
});

describe('omitted-class bias correction', () => {
  it('raises one logit and counts the class before and after', () => {
    // 3 examples, 3 classes: class 2 is never predicted until its bias exceeds 1.5.
    const o = { logits: Float32Array.from([3, 1, 1.5, 0, 3, 1, 3, 0, 0]), labels: Int32Array.from([2, 1, 0]), classes: 3 };
    expect(correctedAccuracy(o, 2, 0)).toEqual({ accuracy: 2 / 3, classCorrect: 0, classExamples: 1 });
    expect(correctedAccuracy(o, 2, 1.6)).toEqual({ accuracy: 1, classCorrect: 1, classExamples: 1 });
    // Too large a bias takes the others' examples.
    expect(correctedAccuracy(o, 2, 5).accuracy).toBeCloseTo(1 / 3, 10);
  });
});
