import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BackendName, useBestBackend } from '@kd/backend-gpu';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { run } from '../src/run';

// The example's backend (wasm) unless KD_EXAMPLE_BACKEND names another: CI runs the examples again
// with `native` (@kd/backend-native's OpenBLAS kernels on patched wasm).
await useBestBackend((process.env.KD_EXAMPLE_BACKEND ?? 'wasm') as BackendName);

describe.skipIf(!existsSync('/usr/share/datasets/fashion-mnist'))('image-folder (small size, wasm)', () => {
  it('writes Fashion-MNIST as PNG class folders and distils from them, streaming, leaking nothing', async () => {
    const root = mkdtempSync(join(tmpdir(), 'kd-image-folder-'));
    try {
      const before = tf.memory().numTensors;
      const options = {
        root,
        trainSize: 320,
        testSize: 160,
        teacherEpochs: 2,
        epochs: 1,
        batchSize: 32,
        negatives: 64,
        workers: 1,
        seed: 1,
        verbose: false,
      };
      const result = await run(options);
      expect(tf.memory().numTensors).toBe(before);
      expect(result.classNames).toEqual([
        '0-t-shirt-top',
        '1-trouser',
        '2-pullover',
        '3-dress',
        '4-coat',
        '5-sandal',
        '6-shirt',
        '7-sneaker',
        '8-bag',
        '9-ankle-boot',
      ]);
      const pngs = readdirSync(join(root, 'train'), { recursive: true }).filter((f) => String(f).endsWith('.png'));
      expect(pngs).toHaveLength(320);
      expect(result.rows.map((r) => r.model)).toEqual(['teacher CNN', 'student, scratch', 'student, KD + CRD']);
      // Two teacher epochs on 320 real images beat chance (10 %) clearly.
      expect(result.rows[0]!.accuracy).toBeGreaterThan(0.3);
      for (const row of result.rows) expect(row.accuracy).toBeLessThanOrEqual(1);
      expect(result.table).toContain('| student, KD + CRD |');
      // The KD + CRD student distilled from teacher outputs precomputed to disk.
      const store = JSON.parse(readFileSync(join(root, 'teacher-store', 'manifest.json'), 'utf8'));
      expect(store).toMatchObject({ numClasses: 10, taps: { teacher_pool: [null, 128] }, source: { size: 320 } });
      // A second run reuses the folders (nothing rewritten) and, seeded, gives the same accuracies.
      const again = await run(options);
      expect(again.rows.map((r) => r.accuracy)).toEqual(result.rows.map((r) => r.accuracy));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
