import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useBestBackend } from '@kd/backend-gpu';
import { imageFolder } from '@kd/data/node';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { writeSyntheticFolder } from '../src/stream/folder';
import { measureEpoch, median, type StreamRunOptions, timeSteps } from '../src/stream/run';

describe('stream bench pieces (tiny sizes)', () => {
  it('writes a synthetic PNG folder once, streams an epoch of KD + CRD from it with RSS samples, times steps, leaks nothing', async () => {
    await useBestBackend('wasm');
    const dir = mkdtempSync(join(tmpdir(), 'kd-stream-bench-'));
    try {
      const folder = await writeSyntheticFolder(dir, 200, 32, 10, 1);
      expect(folder.count).toBe(200);
      expect(readdirSync(dir).filter((d) => d.startsWith('class_'))).toHaveLength(10);
      const again = await writeSyntheticFolder(dir, 200, 32, 10, 1);
      expect(again.seconds).toBe(folder.seconds); // reused, not rewritten
      const source = await imageFolder(dir, { size: 32, channels: 3, workers: 1 });
      const options: StreamRunOptions = {
        batchSize: 32,
        negatives: 64,
        featureDim: 16,
        teacher: [4, 8, 16],
        student: [2, 4, 8],
        imageShape: [32, 32, 3],
        prefetch: 2,
        seed: 1,
      };
      const epoch = await measureEpoch(source, options, 64);
      expect(epoch.steps).toBe(7);
      expect(epoch.tensorsAfter).toBe(epoch.tensorsBefore);
      expect(epoch.rss.map((r) => r.examples)).toEqual([0, 64, 128, 192, 200]);
      expect(epoch.peakRssMiB).toBeGreaterThan(0);
      expect(Number.isFinite(epoch.finalLoss)).toBe(true);
      const before = tf.memory().numTensors;
      const rate = await timeSteps(source, options, 3, 1);
      expect(rate).toBeGreaterThan(0);
      expect(tf.memory().numTensors).toBe(before);
      await source.close();
      expect(median([3, 1, 2])).toBe(2);
      expect(median([4, 1, 2, 3])).toBe(2.5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
