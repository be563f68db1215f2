import * as tf from '@tensorflow/tfjs-core';
import { type Batch, type DistillationPlugin, definePlugin } from '@kd/core';

/**
 * Input jitter as a `transformBatch` plugin: shifts each 28x28 image by up to `pixels` in x and
 * y (zero fill), drawn from the run's seeded random source — Hinton et al.'s teacher
 * regulariser on MNIST ("jittered up to 2 px").
 */
export function jitter(pixels = 2): DistillationPlugin<void> {
  return definePlugin<void>({
    name: 'jitter',
    transformBatch(batch: Batch, { random }) {
      const [n] = batch.x.shape;
      const source = batch.x.dataSync();
      const out = new Float32Array(source.length);
      for (let k = 0; k < n!; k++) {
        const dx = random.int(2 * pixels + 1) - pixels;
        const dy = random.int(2 * pixels + 1) - pixels;
        const base = k * 784;
        for (let r = 0; r < 28; r++) {
          const sr = r - dy;
          if (sr < 0 || sr >= 28) continue;
          for (let c = 0; c < 28; c++) {
            const sc = c - dx;
            if (sc >= 0 && sc < 28) out[base + r * 28 + c] = source[base + sr * 28 + sc]!;
          }
        }
      }
      return { ...batch, x: tf.tensor(out, batch.x.shape) };
    },
  });
}
