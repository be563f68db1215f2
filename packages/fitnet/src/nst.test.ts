import { Distiller, hardLabel } from '@kd/core';
import { expectRefused } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { convNet, disposeData, leakedTensors, toyData } from '../test/helpers';
import { neuronSelectivityTransfer, nstLoss } from './nst';

describe('nstLoss', () => {
  it('is 0 for identical maps and for maps equal up to a positive per-channel scale (selectivity, not magnitude)', () => {
    tf.tidy(() => {
      const f = tf.randomNormal([2, 3, 3, 4], 0, 1, 'float32', 1) as tf.Tensor4D;
      expect(Math.abs(nstLoss(f, f).dataSync()[0]!)).toBeLessThan(1e-6);
      const scaled = tf.mul(f, tf.tensor1d([2, 0.5, 3, 7])) as tf.Tensor4D;
      expect(Math.abs(nstLoss(scaled, f).dataSync()[0]!)).toBeLessThan(1e-5);
      const other = tf.randomNormal([2, 3, 3, 4], 0, 1, 'float32', 2) as tf.Tensor4D;
      expect(nstLoss(other, f).dataSync()[0]!).toBeGreaterThan(1e-3);
    });
  });

  it('has a finite gradient when a channel is all zeros (a dead ReLU), as PyTorch', () => {
    tf.tidy(() => {
      const live = tf.relu(tf.randomNormal([2, 3, 3, 2], 0, 1, 'float32', 8));
      const s = tf.concat([live, tf.zeros([2, 3, 3, 1])], 3) as tf.Tensor4D;
      const t = tf.randomNormal([2, 3, 3, 4], 0, 1, 'float32', 9) as tf.Tensor4D;
      const g = tf.grad((x: tf.Tensor) => nstLoss(x as tf.Tensor4D, t))(s);
      expect(g.dataSync().every(Number.isFinite)).toBe(true);
      expect(tf.max(tf.abs(g)).dataSync()[0]!).toBeGreaterThan(0);
    });
  });

  it('pools the larger map by an integer factor (2x, 4x): equal to the loss on the pooled map', () => {
    tf.tidy(() => {
      const small = tf.randomNormal([2, 2, 2, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
      for (const factor of [2, 4]) {
        const big = tf.randomNormal([2, 2 * factor, 2 * factor, 5], 0, 1, 'float32', 4 + factor) as tf.Tensor4D;
        const pooled = tf.avgPool(big, factor, factor, 'valid') as tf.Tensor4D;
        const direct = nstLoss(big, small).dataSync()[0]!;
        expect(Math.abs(direct - nstLoss(pooled, small).dataSync()[0]!)).toBeLessThan(1e-6);
        expect(Math.abs(nstLoss(small, big).dataSync()[0]! - nstLoss(small, pooled).dataSync()[0]!)).toBeLessThan(1e-6);
      }
    });
  });

  it('refuses non-integer size ratios, other ranks and mismatched batches before any work, leaking nothing', async () => {
    const [a6, b4, c3, vec, d2, e3] = [
      tf.zeros([1, 6, 6, 2]),
      tf.zeros([1, 4, 4, 2]),
      tf.zeros([2, 3, 3, 2]),
      tf.zeros([1, 8]) as tf.Tensor,
      tf.zeros([2, 4, 4, 2]),
      tf.zeros([1, 3, 3, 2]),
    ] as unknown as tf.Tensor4D[];
    await expectRefused(() => nstLoss(a6!, b4!), 'unsupported-size-relation', '6/4');
    await expectRefused(() => nstLoss(b4!, e3!), 'unsupported-size-relation', 'integer multiple');
    await expectRefused(() => nstLoss(vec!, b4!), 'rank-mismatch', 'student must be an NHWC map');
    await expectRefused(() => nstLoss(b4!, d2!), 'batch-size-mismatch', 'different batch sizes (1 vs 2)');
    await expectRefused(() => nstLoss(c3!, 'map' as never), 'bad-option', 'teacher must be a tensor');
    tf.dispose([a6!, b4!, c3!, vec!, d2!, e3!]);
  });
});

describe('neuronSelectivityTransfer plugin', () => {
  it('trains a student on ce + 50 * nst (student map 2x smaller than the teacher map): finite, decreasing, no leaks', async () => {
    const data = toyData(32, [8, 8, 1], 2, 11);
    const teacher = convNet(8, 4, 1, 2, 31, 'nt'); // nt_map [8, 8, 4]
    const student = convNet(8, 3, 2, 2, 41, 'ns'); // ns_map [4, 4, 3]
    const optimizer = tf.train.sgd(0.05);
    const plugin = neuronSelectivityTransfer({ pairs: [{ student: 'ns_map', teacher: 'nt_map' }] });
    const distiller = new Distiller({ student, teacher, optimizer, seed: 3 }).use(hardLabel()).use(plugin);
    expect(distiller.describe()).toBe('Loss = 1*ce + 50*nst');
    await distiller.fit(data, { epochs: 1, batchSize: 8 });
    let terms: number[] = [];
    const leaked = await leakedTensors(async () => {
      const history = await distiller.fit(data, { epochs: 6, batchSize: 8 });
      terms = history.epochs.map((e) => e.terms['nst']!);
    });
    expect(leaked).toBe(0);
    expect(terms.every(Number.isFinite)).toBe(true);
    expect(terms.at(-1)!).toBeLessThan(terms[0]! * 0.95);
    distiller.dispose();
    [student, teacher].forEach((m) => m.dispose());
    optimizer.dispose();
    disposeData(data);
  });

  it('sums the pairs; refuses a non-integer map ratio in setup, before the first step', async () => {
    const data = toyData(8, [6, 6, 1], 2, 12);
    const teacher = convNet(6, 4, 1, 2, 32, 'nu'); // [6, 6, 4]
    const student = convNet(6, 3, 2, 2, 42, 'nv'); // [3, 3, 3]
    const s = tf.randomNormal([2, 3, 3, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const t = tf.randomNormal([2, 6, 6, 4], 0, 1, 'float32', 6) as tf.Tensor4D;
    const plugin = neuronSelectivityTransfer({
      pairs: [
        { student: 's', teacher: 't' },
        { student: 's', teacher: 't' },
      ],
    });
    const value = tf.tidy(
      () =>
        (
          plugin.loss!({ student: { features: { s } }, teacher: { features: { t } } } as never, { state: undefined } as never) as tf.Scalar
        ).dataSync()[0]!,
    );
    expect(Math.abs(value - 2 * tf.tidy(() => nstLoss(s, t).dataSync()[0]!))).toBeLessThan(1e-6);
    const odd = convNet(6, 3, 1, 2, 43, 'nw'); // [6, 6, 3] vs a 4x4 map is not an integer ratio
    const four = convNet(4, 3, 1, 2, 44, 'nx');
    const optimizer = tf.train.sgd(0.1);
    const refused = new Distiller({ student: four, teacher: odd, optimizer }).use(
      neuronSelectivityTransfer({ pairs: [{ student: 'nx_map', teacher: 'nw_map' }] }),
    );
    const four8 = toyData(8, [4, 4, 1], 2, 13);
    await expectRefused(
      () => refused.fit({ ...four8, teacherX: data.x }, { epochs: 1, batchSize: 4 }),
      'unsupported-size-relation',
      'Plugin "nst": the larger map must be an integer multiple',
    );
    refused.dispose();
    [teacher, student, odd, four].forEach((m) => m.dispose());
    optimizer.dispose();
    tf.dispose([s, t]);
    disposeData(data);
    disposeData(four8);
  });
});
