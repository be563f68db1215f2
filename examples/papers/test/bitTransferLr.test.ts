import { loadMnistDigits } from '@kd/data/node';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { BIT_TRANSFER_SIZES, fewShotPositions, runBitTransfer } from '../src/bitTransfer';
import { BIT_TRANSFER_LR_SIZES, runBitTransferLr, validationDigits } from '../src/bitTransferLr';
import { exampleBackend, freshDir, hasFashion } from './setup';

await exampleBackend();

describe('validationDigits', () => {
  it('draws from the training split outside the largest few-shot set, seeded, without repeats', () => {
    const before = tf.memory().numTensors;
    const digits = loadMnistDigits();
    const used = fewShotPositions(digits.train, 100, 1);
    // Tag each training digit by its position (its pixel sum is not unique), then look the drawn ones up.
    const n = digits.train.x.shape[0]!;
    const tagged = { x: tf.tidy(() => tf.reshape(tf.range(0, n, 1, 'float32'), [n, 1])), y: digits.train.y };
    const positions = (seed: number, fewShot: number[]) =>
      tf.tidy(() => Array.from(validationDigits(tagged, fewShot, 500, seed).x.dataSync()));
    const drawn = positions(1, used);
    expect(drawn).toHaveLength(500);
    expect(new Set(drawn).size).toBe(500);
    const usedSet = new Set(used);
    expect(drawn.filter((p) => usedSet.has(p))).toEqual([]);
    expect(positions(1, used)).toEqual(drawn);
    expect(positions(2, used)).not.toEqual(drawn);
    // Without the exclusion the same seed draws some of the few-shot digits (so the exclusion is what keeps them apart).
    expect(positions(1, []).filter((p) => usedSet.has(p)).length).toBeGreaterThan(0);
    tf.dispose([tagged.x, digits.train.x, digits.train.y, digits.test.x, digits.test.y]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe.skipIf(!hasFashion)('bit-transfer-lr (small size)', () => {
  it("tries every learning rate of the grid for transfer and scratch on validation digits, picks each kind's lowest mean error; the upstream is bit-transfer's; a rerun resumes", async () => {
    const before = tf.memory().numTensors;
    const dir = freshDir();
    const first = await runBitTransferLr('small', dir);
    expect(tf.memory().numTensors).toBe(before);
    const grid = BIT_TRANSFER_LR_SIZES.small.learningRates;
    const shots = BIT_TRANSFER_SIZES.small.shots;
    expect(first.rows.map((r) => [r.kind, r.learningRate])).toEqual([
      ...grid.map((lr) => ['transfer', lr]),
      ...grid.map((lr) => ['scratch', lr]),
    ]);
    for (const r of first.rows) {
      expect(r.errors).toHaveLength(shots.length);
      const mean = r.errors.reduce((a, e) => a + e.mean, 0) / r.errors.length;
      expect(r.overall).toBeCloseTo(mean, 10); // equal seed counts per shot count: the mean of the means
    }
    for (const kind of ['transfer', 'scratch'] as const) {
      const ofKind = first.rows.filter((r) => r.kind === kind);
      const lowest = Math.min(...ofKind.map((r) => r.overall));
      expect(ofKind.find((r) => r.learningRate === first.chosen[kind])!.overall).toBe(lowest);
    }
    expect(first.table).toContain('Chosen (lowest mean validation error)');
    // The same upstream as bit-transfer's (deterministic pre-training): the same upstream accuracy.
    const transfer = await runBitTransfer('small', freshDir());
    const upstreamError = transfer.upstream.errors[0]!;
    expect(first.table).toContain(`${(100 - upstreamError).toFixed(2)} % accuracy`);
    const again = await runBitTransferLr('small', dir);
    expect(again.rows).toEqual(first.rows);
    expect(tf.memory().numTensors).toBe(before);
  });
});
