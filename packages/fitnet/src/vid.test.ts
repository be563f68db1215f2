import { hardLabel } from '@kd/core';
import { expectRefused } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { convNet, disposeData, tinyRun, toyData } from '../test/helpers';
import { VariationalRegressor, variationalInformation, variationalInformationLoss } from './vid';

describe('variationalInformationLoss', () => {
  it('is minimised over the variance at var = mean squared error per channel (the Gaussian NLL)', () => {
    tf.tidy(() => {
      const mean = tf.zeros([4, 2, 2, 1]) as tf.Tensor4D;
      const t = tf.randomNormal([4, 2, 2, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
      const mse = tf.mean(tf.square(t)).dataSync()[0]!;
      // softplus(alpha) + eps = mse  <=>  alpha = log(exp(mse - eps) - 1)
      const best = Math.log(Math.expm1(mse - 1e-5));
      const at = (alpha: number) => variationalInformationLoss(mean, tf.tensor1d([alpha]), t).dataSync()[0]!;
      expect(at(best)).toBeLessThan(at(best + 0.3));
      expect(at(best)).toBeLessThan(at(best - 0.3));
      expect(Math.abs(at(best) - 0.5 * (Math.log(mse) + 1))).toBeLessThan(1e-5);
    });
  });

  it('refuses mismatched shapes, batches, alpha lengths and a bad epsilon before any work', async () => {
    const [m, t, b, a2, a3] = [tf.zeros([2, 2, 2, 3]), tf.zeros([2, 2, 2, 2]), tf.zeros([1, 2, 2, 3]), tf.zeros([2]), tf.zeros([3])];
    const m4 = m as tf.Tensor4D;
    await expectRefused(
      () => variationalInformationLoss(m4, a3 as tf.Tensor1D, t as tf.Tensor4D),
      'feature-shape-mismatch',
      'differ in shape',
    );
    await expectRefused(() => variationalInformationLoss(m4, a3 as tf.Tensor1D, b as tf.Tensor4D), 'batch-size-mismatch', '(2 vs 1)');
    await expectRefused(() => variationalInformationLoss(m4, a2 as tf.Tensor1D, m4), 'feature-shape-mismatch', 'logScale must be [3]');
    await expectRefused(() => variationalInformationLoss(m4, a3 as tf.Tensor1D, m4, -1), 'bad-option', 'epsilon must be');
    await expectRefused(() => variationalInformationLoss(m4, a3 as tf.Tensor1D, m4, Number.NaN), 'bad-option', 'epsilon must be');
    await expectRefused(
      () => variationalInformationLoss(a3 as never, a3 as tf.Tensor1D, m4),
      'rank-mismatch',
      'predictedMean must be an NHWC map',
    );
    tf.dispose([m, t, b, a2, a3]);
  });
});

describe('variationalInformation plugin', () => {
  it('trains student + regressor on ce + vid (student map 2x the teacher map): finite, decreasing, variables trained, checkpoint round trip, disposed', async () => {
    const data = toyData(32, [8, 8, 1], 2, 21);
    const teacher = convNet(8, 4, 2, 2, 51, 'vt'); // vt_map [4, 4, 4]
    const student = convNet(8, 3, 1, 2, 61, 'vs'); // vs_map [8, 8, 3], pooled to 4x4
    const make = () => variationalInformation({ student: 'vs_map', teacher: 'vt_map' });
    const result = await tinyRun({ plugin: make(), fresh: make, before: [hardLabel()], student, teacher, data, term: 'vid' });
    expect(result.leaked).toBe(0);
    expect(result.terms.every(Number.isFinite)).toBe(true);
    expect(result.terms.at(-1)!).toBeLessThan(result.terms[0]!);
    expect(result.variableChange).toBeGreaterThan(1e-4);
    expect(result.roundTrip).toBe(0);
    expect(result.leftAfterDispose).toBe(0);
    [student, teacher].forEach((m) => m.dispose());
    disposeData(data);
  });

  it('sizes the regressor from the tapped shapes; refuses a non-integer ratio in setup', async () => {
    const r = new VariationalRegressor([null, 4, 4, 3], [null, 2, 2, 5], { hiddenChannels: 7 });
    expect(r.kernels.map((k) => k.shape)).toEqual([
      [1, 1, 3, 7],
      [1, 1, 7, 7],
      [1, 1, 7, 5],
    ]);
    r.dispose();
    const plugin = variationalInformation({ student: 's', teacher: 't' });
    await expectRefused(
      () =>
        plugin.setup!({ studentShapes: { s: [null, 6, 6, 2] }, teacherShapes: { t: [null, 4, 4, 2] }, random: { seed: () => 1 } } as never),
      'unsupported-size-relation',
      'Plugin "vid" (student "s" -> teacher "t")',
    );
  });
});
