import { fitStages, hardLabel, softTargets, trainStudentUpTo } from '@kd/core';
import { expectRefused } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { disposeData, layerVariables, leakedTensors, mapNet, maxChange, snapshot, tinyRun, toyData } from '../test/helpers';
import { type ActivationBoundaryState, activationBoundary, activationBoundaryLoss } from './ab';

describe('activationBoundaryLoss', () => {
  it('is 0 once the student is past the margin on the teacher side, and counts each violation as the squared hinge', () => {
    tf.tidy(() => {
      const t = tf.tensor2d([[2, -1, 0.5, -3]]);
      expect(activationBoundaryLoss(tf.tensor2d([[1.5, -1.2, 1, -5]]), t).dataSync()[0]).toBe(0);
      // entry 0: teacher on, s = 0.2 <= 1: (0.2 - 1)^2; entry 1: teacher off, s = 0 > -1: (0 + 1)^2
      const value = activationBoundaryLoss(tf.tensor2d([[0.2, 0, 1, -5]]), t).dataSync()[0]!;
      expect(Math.abs(value - ((0.8 ** 2 + 1) * 3) / 1000)).toBeLessThan(1e-8);
      const half = activationBoundaryLoss(tf.tensor2d([[0.2, 0, 1, -5]]), t, { margin: 0.5 }).dataSync()[0]!;
      expect(Math.abs(half - ((0.3 ** 2 + 0.25) * 3) / 1000)).toBeLessThan(1e-8);
    });
  });

  it('refuses bad margins, unknown options, mismatched shapes and batches before any work', async () => {
    const [a, b, c] = [tf.zeros([2, 3]), tf.zeros([2, 4]), tf.zeros([1, 3])];
    await expectRefused(() => activationBoundaryLoss(a, a, { margin: -1 }), 'bad-option', 'option "margin"');
    await expectRefused(() => activationBoundaryLoss(a, a, { margin: Number.NaN }), 'bad-option', 'option "margin"');
    await expectRefused(() => activationBoundaryLoss(a, a, { margn: 1 } as never), 'unknown-option', 'did you mean "margin"');
    await expectRefused(() => activationBoundaryLoss(a, b), 'feature-shape-mismatch', '[2,3] and the teacher feature [2,4]');
    await expectRefused(() => activationBoundaryLoss(a, c), 'batch-size-mismatch', '(2 vs 1)');
    await expectRefused(() => activationBoundaryLoss(a, 'x' as never), 'bad-option', 'teacherPre must be a tensor');
    tf.dispose([a, b, c]);
  });
});

describe('activationBoundary plugin', () => {
  it('tiny run on pre-ReLU maps: finite, decreasing, connector trained, checkpoint round trip, disposed', async () => {
    const data = toyData(32, [8, 8, 1], 2, 41);
    const teacher = mapNet(8, [{ filters: 4 }, { filters: 5, strides: 2 }], 2, 91, 'at'); // at_map2 [4,4,5] (pre-ReLU)
    const student = mapNet(8, [{ filters: 2 }, { filters: 3, strides: 2 }], 2, 95, 'as'); // as_map2 [4,4,3]
    const make = () => activationBoundary({ student: 'as_map2', teacher: 'at_map2' });
    const result = await tinyRun({ plugin: make(), fresh: make, student, teacher, data, term: 'ab' });
    expect(result.leaked).toBe(0);
    expect(result.terms.every(Number.isFinite)).toBe(true);
    expect(result.terms.at(-1)!).toBeLessThan(result.terms[0]!);
    expect(result.variableChange).toBeGreaterThan(1e-4);
    expect(result.roundTrip).toBe(0);
    expect(result.leftAfterDispose).toBe(0);
    [student, teacher].forEach((m) => m.dispose());
    disposeData(data);
  });

  it("as fitStages' init stage (RepDistiller: connector + feature layers on AB, then ce + KD): classifier untouched in stage 1, no leaks", async () => {
    const data = toyData(32, [8, 8, 1], 2, 42);
    const teacher = mapNet(8, [{ filters: 4 }, { filters: 5, strides: 2 }], 2, 92, 'bt');
    const student = mapNet(8, [{ filters: 2 }, { filters: 3, strides: 2 }], 2, 96, 'bs');
    const classifier = layerVariables(student, 'bs_logits');
    const features = layerVariables(student, 'bs_map2');
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
              name: 'ab',
              plugins: [activationBoundary({ student: 'bs_map2', teacher: 'bt_map2', margin: 1 })],
              epochs: 4,
              optimizer: optimizers[0]!,
              trainable: trainStudentUpTo(student, 'bs_map2'),
              fit: { batchSize: 8 },
            },
            {
              name: 'kd',
              plugins: [hardLabel(), softTargets({ temperature: 4 })],
              epochs: 1,
              optimizer: optimizers[1]!,
              fit: { batchSize: 8 },
            },
          ],
        },
        data,
        {
          onStageEnd: ({ index, history, distiller }) => {
            if (index !== 0) return;
            const state = (distiller as unknown as { slots: { state: ActivationBoundaryState }[] }).slots[0]!.state;
            seen['connectorVariables'] = state.connector.variables.length;
            seen['first'] = history.epochs[0]!.terms['ab']!;
            seen['last'] = history.epochs.at(-1)!.terms['ab']!;
            seen['classifier'] = maxChange(start.classifier, classifier);
            seen['features'] = maxChange(start.features, features);
          },
        },
      ),
    );
    expect(leaked).toBe(0); // the connector is disposed with its stage
    expect(seen['connectorVariables']).toBe(4);
    expect(seen['last']!).toBeLessThan(seen['first']!);
    expect(seen['classifier']).toBe(0);
    expect(seen['features']!).toBeGreaterThan(1e-4);
    expect(maxChange(start.classifier, classifier)).toBeGreaterThan(1e-4);
    optimizers.forEach((o) => o.dispose());
    [student, teacher].forEach((m) => m.dispose());
    disposeData(data);
  });
});
