import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadMnistDigits } from '@kd/data/node';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { fewShot, runBitTransfer } from '../src/bitTransfer';
import { exampleBackend, freshDir, hasFashion } from './setup';

await exampleBackend();

describe('fewShot', () => {
  it('draws k examples of every class, seeded and nested (the 5-shot set holds the 1-shot set)', () => {
    const before = tf.memory().numTensors;
    const digits = loadMnistDigits();
    const one = fewShot(digits.train, 1, 1);
    const five = fewShot(digits.train, 5, 1);
    const again = fewShot(digits.train, 5, 1);
    const other = fewShot(digits.train, 5, 2);
    expect(Array.from(one.y.dataSync())).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(Array.from(five.y.dataSync())).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].flatMap((c) => [c, c, c, c, c]));
    const rows = (d: { x: tf.Tensor }) => tf.tidy(() => tf.sum(tf.reshape(d.x, [d.x.shape[0]!, -1]), 1).arraySync() as number[]);
    expect(rows(again)).toEqual(rows(five));
    expect(rows(other)).not.toEqual(rows(five));
    const fiveSums = rows(five);
    rows(one).forEach((s, c) => expect(s).toBe(fiveSums[5 * c]));
    tf.dispose([one, five, again, other, digits.train, digits.test].flatMap((d) => [d.x, d.y]));
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe.skipIf(!hasFashion)('bit-transfer (small size)', () => {
  it('pre-trains upstream, transfers and trains from scratch at each shot count, distils the transfer into a CNN (scratch, KD, KD + CRD); a rerun resumes every arm', async () => {
    const before = tf.memory().numTensors;
    const dir = freshDir();
    const first = await runBitTransfer('small', dir);
    expect(tf.memory().numTensors).toBe(before);
    expect(first.upstream.errors).toHaveLength(1);
    expect(first.transfer.map((r) => r.arm)).toEqual([
      'BiT transfer (upstream Fashion-MNIST), 1 / class',
      'same ResNet from scratch, 1 / class',
      'BiT transfer (upstream Fashion-MNIST), 5 / class',
      'same ResNet from scratch, 5 / class',
    ]);
    expect(first.distil.map((r) => r.arm)).toEqual([
      'teacher: BiT transfer',
      'student CNN, scratch',
      'student CNN, KD (0.1 hard + 0.9 soft, T = 4)',
      'student CNN, KD + CRD (+ 0.8 crd)',
    ]);
    for (const r of [...first.transfer, ...first.distil]) {
      expect(r.errors).toHaveLength(3);
      for (const e of r.errors) expect(e).toBeGreaterThanOrEqual(0);
      for (const e of r.errors) expect(e).toBeLessThanOrEqual(100);
    }
    // The teacher row is the 5 / class transfer, seed by seed.
    expect(first.distil[0]!.errors).toEqual(first.transfer[2]!.errors);
    // The zero-init heads start at chance; a few steps already move the errors apart per seed.
    expect(new Set(first.transfer.flatMap((r) => r.errors)).size).toBeGreaterThan(1);
    const saved = JSON.parse(readFileSync(join(dir, 'bit-transfer.json'), 'utf8')) as { transfer: { errors: number[] }[] };
    expect(saved.transfer.map((r) => r.errors)).toEqual(first.transfer.map((r) => r.errors));
    expect(readFileSync(join(dir, 'bit-transfer.md'), 'utf8')).toContain('| student CNN, KD + CRD (+ 0.8 crd) |');
    expect(first.table).toMatch(/boundaries \[1,2,3,4,5\] \(stepsScale 0.01/);

    // The same folder: the upstream run and every arm resume from their finished checkpoints.
    const resumed = await runBitTransfer('small', dir);
    expect(resumed.upstream.errors).toEqual(first.upstream.errors);
    expect(resumed.transfer.map((r) => r.errors)).toEqual(first.transfer.map((r) => r.errors));
    expect(resumed.distil.map((r) => r.errors)).toEqual(first.distil.map((r) => r.errors));
    expect(resumed.seconds).toBeLessThan(first.seconds);
    expect(tf.memory().numTensors).toBe(before);
  });
});
