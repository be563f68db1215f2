import { Distiller, hardLabel } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { convNet, disposeData, leakedTensors, toyData } from '../test/helpers';
import { attentionLoss, attentionMap, attentionTransfer } from './attention';

describe('attentionTransfer plugin', () => {
  it('weights the summed pair losses by beta (default 1000), trains, leaks nothing', async () => {
    const data = toyData(8, [4, 4, 1], 2, 1);
    const teacher = convNet(4, 3, 1, 2, 10, 'ta'); // ta_map [4, 4, 3]
    const student = convNet(4, 2, 2, 2, 20, 'sa'); // sa_map [2, 2, 2]: teacher pooled 2x2
    const distiller = new Distiller({ student, teacher, optimizer: tf.train.sgd(0.05), seed: 1 })
      .use(hardLabel())
      .use(attentionTransfer({ pairs: [{ student: 'sa_map', teacher: 'ta_map' }] }));
    expect(distiller.describe()).toBe('Loss = 1*ce + 1000*at');
    await distiller.fit(data, { epochs: 1, batchSize: 4 });
    let at = Number.NaN;
    const leaked = await leakedTensors(async () => {
      const h = await distiller.fit(data, { epochs: 3, batchSize: 4 });
      at = h.epochs.at(-1)!.terms['at']!;
    });
    expect(leaked).toBe(0);
    expect(at).toBeGreaterThan(0);
    expect(at).toBeLessThan(4 / 4); // squared difference of unit rows, averaged over 4 positions
    distiller.dispose();
    disposeData(data);
  });

  it('attention maps are unit rows; identical maps give 0; two pairs sum', () => {
    tf.tidy(() => {
      const f = tf.randomNormal([3, 4, 4, 5], 0, 1, 'float32', 3) as tf.Tensor4D;
      const norms = tf.norm(attentionMap(f), 2, 1).dataSync();
      norms.forEach((n) => expect(n).toBeCloseTo(1, 6));
      expect(attentionLoss(f, f).dataSync()[0]).toBe(0);
      // scaling every activation does not change the map
      expect(attentionLoss(f, tf.mul(f, 3) as tf.Tensor4D).dataSync()[0]).toBeLessThan(1e-12);
    });
  });

  it('clear errors: rank, size relation, options', async () => {
    expect(() => attentionTransfer({ pairs: [] })).toThrow(/attentionTransfer: option "pairs"/);
    expect(() => attentionTransfer({ pairs: [{ student: 'a', teacher: '' }] })).toThrow(/option "pairs\[0\]\.teacher"/);
    expect(() => attentionTransfer({ pairs: [{ student: 'a', teacher: 'b' }], p: 0 })).toThrow(/option "p"/);
    expect(() => tf.tidy(() => attentionLoss(tf.zeros([1, 4, 4, 1]) as tf.Tensor4D, tf.zeros([1, 3, 3, 1]) as tf.Tensor4D))).toThrow(
      /integer multiple/,
    );
    const data = toyData(4, [4, 4, 1], 2, 2);
    const teacher = convNet(4, 3, 1, 2, 30, 'tb');
    const student = convNet(4, 2, 1, 2, 40, 'sb');
    const d = new Distiller({ student, teacher, optimizer: tf.train.sgd(0.1) }).use(
      attentionTransfer({ pairs: [{ student: 'sb_map', teacher: 'tb_flat' }] }),
    );
    await expect(d.fit(data, { epochs: 1 })).rejects.toThrow(
      /Plugin "at" \(student "sb_map" -> teacher "tb_flat"\): attention transfer needs NHWC maps/,
    );
    disposeData(data);
  });
});

describe('attentionLoss on an all-zero map (every ReLU of an example dead)', () => {
  it('has a finite gradient (0 through the norm, as PyTorch F.normalize), not NaN', () => {
    tf.tidy(() => {
      const s = tf.concat([tf.zeros([1, 2, 2, 3]), tf.randomNormal([1, 2, 2, 3], 0, 1, 'float32', 4)], 0) as tf.Tensor4D;
      const t = tf.randomNormal([2, 2, 2, 5], 0, 1, 'float32', 5) as tf.Tensor4D;
      const g = tf.grad((x: tf.Tensor) => attentionLoss(x as tf.Tensor4D, t))(s);
      expect(g.dataSync().every(Number.isFinite)).toBe(true);
      expect(Array.from(attentionMap(s).dataSync().slice(0, 4))).toEqual([0, 0, 0, 0]);
    });
  });
});
