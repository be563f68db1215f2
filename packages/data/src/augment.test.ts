import { Distiller, SeededRandom, softTargets } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { leakedTensors } from '../test/helpers';
import { augment, horizontalFlip, jitter, randomCrop } from './augment';

/** Images whose pixel value encodes (row, col): v = 1 + r * 10 + c. */
function grid(n: number, h: number, w: number): tf.Tensor4D {
  const v = new Float32Array(n * h * w);
  for (let k = 0; k < n; k++) for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) v[(k * h + r) * w + c] = 1 + r * 10 + c;
  return tf.tensor4d(v, [n, h, w, 1]);
}

describe('augmentations', () => {
  it('randomCrop pads with zeros and crops a shifted window; seeded', async () => {
    const x = grid(20, 5, 6);
    const leaked = await leakedTensors(() => {
      const a = randomCrop(x, { padding: 2 }, new SeededRandom(1));
      const b = randomCrop(x, { padding: 2 }, new SeededRandom(1));
      expect(a.shape).toEqual([20, 5, 6, 1]);
      expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
      const values = a.arraySync() as number[][][][];
      let shifted = 0;
      for (const img of values) {
        // Every non-zero pixel is a source pixel; its offset from (r, c) is the same for the image.
        const offsets = new Set<string>();
        img.forEach((row, r) =>
          row.forEach(([v], c) => {
            if (v! === 0) return;
            const sr = Math.floor((v! - 1) / 10);
            const sc = (v! - 1) % 10;
            offsets.add(`${sr - r},${sc - c}`);
          }),
        );
        expect(offsets.size).toBe(1);
        const [dy, dx] = [...offsets][0]!.split(',').map(Number);
        expect(Math.abs(dy!)).toBeLessThanOrEqual(2);
        expect(Math.abs(dx!)).toBeLessThanOrEqual(2);
        if (dy !== 0 || dx !== 0) shifted++;
      }
      expect(shifted).toBeGreaterThan(10);
      const small = randomCrop(x, { padding: 0, size: [3, 3] }, new SeededRandom(2));
      expect(small.shape).toEqual([20, 3, 3, 1]);
      tf.dispose([a, b, small]);
    });
    expect(leaked).toBe(0);
    expect(() => randomCrop(x, { padding: 0, size: [6, 6] }, new SeededRandom(1))).toThrow(/larger/);
    x.dispose();
  });

  it('horizontalFlip mirrors with the given probability; twice with the same seed is the identity', () => {
    const x = grid(200, 3, 4);
    const once = horizontalFlip(x, {}, new SeededRandom(5));
    const twice = horizontalFlip(once, {}, new SeededRandom(5));
    expect(Array.from(twice.dataSync())).toEqual(Array.from(x.dataSync()));
    const imgs = once.arraySync() as number[][][][];
    const flipped = imgs.filter((img) => img[0]![0]![0] === 4).length;
    expect(flipped).toBeGreaterThan(70);
    expect(flipped).toBeLessThan(130);
    const all = horizontalFlip(x, { probability: 1 }, new SeededRandom(5));
    expect((all.arraySync() as number[][][][])[0]![1]!.map((p) => p[0])).toEqual([14, 13, 12, 11]);
    tf.dispose([x, once, twice, all]);
  });

  it('jitter shifts by at most `pixels` and keeps the shape', () => {
    const x = grid(30, 6, 6);
    const j = jitter(x, { pixels: 1 }, new SeededRandom(3));
    expect(j.shape).toEqual(x.shape);
    const imgs = j.arraySync() as number[][][][];
    for (const img of imgs) {
      const v = img[2]![2]![0]!;
      const dr = Math.floor((v - 1) / 10) - 2;
      const dc = ((v - 1) % 10) - 2;
      expect(Math.abs(dr)).toBeLessThanOrEqual(1);
      expect(Math.abs(dc)).toBeLessThanOrEqual(1);
    }
    expect(() => jitter(x, { pixels: -1 }, new SeededRandom(3))).toThrow(/pixels/);
    tf.dispose([x, j]);
  });

  it('augment() is a transformBatch plugin: reproducible with the run seed, bypasses the teacher cache, leaks nothing', async () => {
    const x = tf.randomUniform([32, 6, 6, 1], 0, 1, 'float32', 1);
    const y = tf.tensor1d(
      Array.from({ length: 32 }, (_, i) => i % 3),
      'int32',
    );
    const model = (seed: number) =>
      tfl.sequential({
        layers: [
          tfl.layers.flatten({ inputShape: [6, 6, 1] }),
          tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed }) }),
        ],
      });
    const teacher = model(1);
    const train = async () => {
      const student = model(2);
      const d = new Distiller({ student, teacher, optimizer: tf.train.sgd(0.1), seed: 4 })
        .use(augment({ crop: { padding: 1 }, flip: true, jitter: { pixels: 1 } }))
        .use(softTargets({ temperature: 2 }));
      expect(d.plugins[0]!.label).toBe('crop(1)+flip+jitter');
      let weights: number[] = [];
      const leaked = await leakedTensors(async () => {
        await d.fit({ x, y }, { epochs: 2, batchSize: 8 });
        d.dispose();
      });
      expect(leaked).toBe(0);
      // Declared (changesTeacherInput): the cache is off from the start, and says why.
      expect(d.teacherCacheStats()).toMatchObject({
        hits: 0,
        active: false,
        reason: expect.stringContaining('plugin(s) [augment] change the teacher'),
      });
      weights = Array.from(student.getWeights()[0]!.dataSync());
      student.dispose();
      return weights;
    };
    expect(await train()).toEqual(await train());
    expect(() => augment({})).toThrow(/at least one/);
    tf.dispose([x, y]);
    teacher.dispose();
  });
});
