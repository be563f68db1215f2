import { useBestBackend } from '@kd/backend-gpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { cnn, splitActivations } from '../src/quality/models';
import { markdown, summarize } from '../src/quality/report';
import { baselineOf, type QualityResult, type RunRecord } from '../src/quality/run';

await useBestBackend('wasm');

describe('splitActivations (pre-activation taps for AB)', () => {
  it('computes the same logits as the model it copies, with each ReLU as its own layer', () => {
    const before = tf.memory().numTensors;
    const model = cnn('teacher', 3, 5, 7, 11);
    const split = splitActivations(model, 'teacher');
    expect(split.layers.map((l) => l.name)).toEqual([
      'teacher_conv1',
      'teacher_relu1',
      'teacher_block1',
      'teacher_conv2',
      'teacher_relu2',
      'teacher_block2',
      'teacher_flatten',
      'teacher_pool',
      'teacher_logits',
    ]);
    tf.tidy(() => {
      const x = tf.randomUniform([4, 28, 28, 1], 0, 1, 'float32', 5);
      const a = (model.predict(x) as tf.Tensor).arraySync() as number[][];
      const b = (split.predict(x) as tf.Tensor).arraySync() as number[][];
      for (let i = 0; i < a.length; i++) for (let j = 0; j < a[i]!.length; j++) expect(b[i]![j]).toBeCloseTo(a[i]![j]!, 5);
      // The split conv1 is the pre-activation: the original conv1 (ReLU inside) is its positive part.
      const pre = tfl.model({ inputs: split.inputs, outputs: split.getLayer('teacher_conv1').output as tfl.SymbolicTensor });
      const post = tfl.model({ inputs: model.inputs, outputs: model.getLayer('teacher_conv1').output as tfl.SymbolicTensor });
      const p = pre.predict(x) as tf.Tensor;
      expect(tf.min(p).dataSync()[0]).toBeLessThan(0);
      expect(tf.max(tf.abs(tf.sub(tf.relu(p), post.predict(x) as tf.Tensor))).dataSync()[0]).toBeLessThan(1e-5);
    });
    // The copy owns its weights: disposing the original leaves it working.
    model.dispose();
    tf.tidy(() => {
      expect((split.predict(tf.zeros([1, 28, 28, 1])) as tf.Tensor).shape).toEqual([1, 10]);
    });
    split.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('gap closed against the same architecture', () => {
  const run = (method: RunRecord['method'], seed: number, lastTest: number): RunRecord => ({
    seed,
    pair: 'cnn',
    regime: 'small',
    method,
    description: '',
    examples: 10,
    steps: 1,
    curve: [{ step: 1, test: lastTest, validation: lastTest }],
    lastTest,
    bestTest: lastTest,
    selectedTest: lastTest,
    trainSeconds: 1,
    wallSeconds: 1,
    samplesPerSecond: 1,
  });
  it('measures FSP against scratch-wide (the teacher-width student) and AB against scratch', () => {
    expect(baselineOf('fsp')).toBe('scratch-wide');
    expect(baselineOf('ab')).toBe('scratch');
    expect(baselineOf('kd')).toBe('scratch');
    const result = {
      options: {} as QualityResult['options'],
      teachers: [{ seed: 1, test: 0.9, validation: 0.9, seconds: 1, loaded: true }],
      runs: [run('scratch', 1, 0.8), run('scratch-wide', 1, 0.85), run('fsp', 1, 0.875), run('ab', 1, 0.82)],
      seconds: 1,
    } as QualityResult;
    const s = Object.fromEntries(summarize(result).map((r) => [r.method, r.gapClosed.mean]));
    expect(s['fsp']).toBeCloseTo((0.875 - 0.85) / (0.9 - 0.85), 12); // 0.5, not (0.875 - 0.8) / 0.1
    expect(s['ab']).toBeCloseTo((0.82 - 0.8) / (0.9 - 0.8), 12);
    const rows = markdown({
      ...result,
      options: { sizes: { teacher: [1, 2, 3] }, teacherEpochs: 1, trainSize: 1 },
    } as unknown as QualityResult);
    expect(rows).toMatch(/\| cnn \| small \| scratch-wide \| 1 \| 85\.00 ± 0\.00 \| [^|]+\| [^|]+\| — \| — \|/);
    expect(rows).toContain('| cnn | small | fsp | 1 | 87.50 ± 0.00 | 87.50 ± 0.00 | 87.50 ± 0.00 | 50.00 ± 0.00 |');
  });
});
