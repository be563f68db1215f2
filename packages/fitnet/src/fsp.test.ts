import { fitStages, hardLabel, softTargets, trainStudentUpTo } from '@kd/core';
import { expectRefused } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { disposeData, layerVariables, leakedTensors, mapNet, maxChange, snapshot, toyData } from '../test/helpers';
import { type FspMapPair, flowOfSolution, fspLoss, fspMatrix } from './fsp';

describe('fspMatrix / fspLoss', () => {
  it('G = F1^T F2 / (H W) per example; the larger map is pooled; the loss is 0 against itself', () => {
    tf.tidy(() => {
      const a = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
      const b = tf.tensor4d([1, 0, 0, 1, 2, 2, 0, 0], [1, 2, 2, 2]);
      // channel 0 of b = [1, 0, 2, 0], channel 1 = [0, 1, 2, 0]; a = [1, 2, 3, 4]
      expect(Array.from(fspMatrix(a, b).dataSync())).toEqual([(1 + 6) / 4, (2 + 6) / 4]);
      const big = tf.randomNormal([2, 4, 4, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
      const small = tf.randomNormal([2, 2, 2, 2], 0, 1, 'float32', 2) as tf.Tensor4D;
      const pooled = tf.avgPool(big, 2, 2, 'valid') as tf.Tensor4D;
      expect(tf.max(tf.abs(tf.sub(fspMatrix(big, small), fspMatrix(pooled, small)))).dataSync()[0]).toBeLessThan(1e-6);
      expect(fspLoss([[big, small]], [[big, small]]).dataSync()[0]).toBe(0);
    });
  });

  it('refuses mismatched channel counts, list lengths, batches and ratios before any work', async () => {
    const [m2, m3, m2b, m3x3] = [
      tf.zeros([2, 2, 2, 2]),
      tf.zeros([2, 2, 2, 3]),
      tf.zeros([1, 2, 2, 2]),
      tf.zeros([2, 3, 3, 2]),
    ] as tf.Tensor4D[];
    const p = [m2!, m3!] as FspMapPair;
    await expectRefused(() => fspLoss([p], [[m3!, m3!]]), 'feature-shape-mismatch', "the student's FSP matrix is 2x3, the teacher's 3x3");
    await expectRefused(() => fspLoss([p], []), 'bad-option', 'same length, got 1 and 0');
    await expectRefused(() => fspLoss([p], [[m2b!, m2b!]]), 'batch-size-mismatch', 'student first [2,2,2,2] and teacher first [1,2,2,2]');
    await expectRefused(() => fspMatrix(m2!, m2b!), 'batch-size-mismatch', '(2 vs 1)');
    await expectRefused(() => fspMatrix(m3x3!, m2!), 'unsupported-size-relation', '3/2');
    await expectRefused(() => fspLoss([[m2!] as never], [p]), 'bad-option', 'the student pair must be [first, second]');
    tf.dispose([m2!, m3!, m2b!, m3x3!]);
  });
});

describe('flowOfSolution as the init stage of fitStages (RepDistiller: FSP pre-training, then ce + KD)', () => {
  it('stage 1 trains only the feature layers on fsp (decreasing, classifier untouched); stage 2 distils; no leaks', async () => {
    const data = toyData(32, [8, 8, 1], 3, 31);
    const teacher = mapNet(8, [{ filters: 3 }, { filters: 4, strides: 2 }], 3, 71, 'ft'); // [8,8,3], [4,4,4]
    const student = mapNet(8, [{ filters: 3 }, { filters: 4, strides: 2 }], 3, 81, 'fs');
    const classifier = layerVariables(student, 'fs_logits');
    const features = [...layerVariables(student, 'fs_map1'), ...layerVariables(student, 'fs_map2')];
    const start = { classifier: snapshot(classifier), features: snapshot(features) };
    const optimizers = [tf.train.sgd(0.05), tf.train.sgd(0.05)];
    const seen: Record<string, number> = {};
    const leaked = await leakedTensors(() =>
      fitStages(
        {
          student,
          teacher,
          stages: [
            {
              name: 'fsp',
              plugins: [flowOfSolution({ pairs: [{ student: ['fs_relu1', 'fs_relu2'], teacher: ['ft_relu1', 'ft_relu2'] }] })],
              epochs: 5,
              optimizer: optimizers[0]!,
              trainable: trainStudentUpTo(student, 'fs_relu2'),
              fit: { batchSize: 8 },
            },
            {
              name: 'kd',
              plugins: [hardLabel(), softTargets({ temperature: 4, weight: 0.9 })],
              epochs: 1,
              optimizer: optimizers[1]!,
              fit: { batchSize: 8 },
            },
          ],
        },
        data,
        {
          onStageEnd: ({ index, history }) => {
            if (index !== 0) return;
            seen['first'] = history.epochs[0]!.terms['fsp']!;
            seen['last'] = history.epochs.at(-1)!.terms['fsp']!;
            seen['classifier'] = maxChange(start.classifier, classifier);
            seen['features'] = maxChange(start.features, features);
          },
        },
      ),
    );
    expect(leaked).toBe(0);
    expect(Number.isFinite(seen['last'])).toBe(true);
    expect(seen['last']!).toBeLessThan(seen['first']!);
    expect(seen['classifier']).toBe(0);
    expect(seen['features']!).toBeGreaterThan(1e-4);
    expect(maxChange(start.classifier, classifier)).toBeGreaterThan(1e-4); // stage 2 trains it
    optimizers.forEach((o) => o.dispose());
    [student, teacher].forEach((m) => m.dispose());
    disposeData(data);
  });

  it('refuses, in setup, maps whose channel counts differ between student and teacher', async () => {
    const plugin = flowOfSolution({ pairs: [{ student: ['a', 'b'], teacher: ['c', 'd'] }] });
    await expectRefused(
      () =>
        plugin.setup!({
          studentShapes: { a: [null, 4, 4, 2], b: [null, 2, 2, 3] },
          teacherShapes: { c: [null, 4, 4, 2], d: [null, 2, 2, 5] },
        } as never),
      'feature-shape-mismatch',
      'Plugin "fsp" (pair 0: student "a", "b" -> teacher "c", "d")',
    );
  });
});
