import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import '../test/helpers';
import { MemoryBank } from './memoryBank';

describe('MemoryBank', () => {
  it('holds exactly 2*N*d*4 bytes, uniform in [-s, s], and dispose() frees them', () => {
    const before = tf.memory();
    const bank = new MemoryBank(500, 16, { seed: 3 });
    const after = tf.memory();
    expect(bank.bytes).toBe(2 * 500 * 16 * 4);
    expect(after.numBytes - before.numBytes).toBe(bank.bytes);
    expect(after.numTensors - before.numTensors).toBe(2);
    const s = MemoryBank.initScale(16);
    const values = bank.student.dataSync();
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (const v of values) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    expect(lo).toBeGreaterThanOrEqual(-s);
    expect(hi).toBeLessThanOrEqual(s);
    expect(hi - lo).toBeGreaterThan(1.9 * s);
    bank.dispose();
    expect(tf.memory().numBytes).toBe(before.numBytes);
    expect(tf.memory().numTensors).toBe(before.numTensors);
  });

  it('updates the positive rows only (momentum + renormalisation), with no memory growth', () => {
    const bank = new MemoryBank(50, 4, { seed: 1 });
    const start = tf.memory();
    const old = bank.student.arraySync();
    const index = Int32Array.from([3, 17, 42]);
    const v = tf.tidy(() => tf.div(tf.ones([3, 4]), 2) as tf.Tensor2D);
    for (let step = 0; step < 5; step++) {
      bank.update(index, v, v, 0.5);
      expect(tf.memory().numTensors).toBe(start.numTensors + 1);
      expect(tf.memory().numBytes).toBe(start.numBytes + v.size * 4);
    }
    const now = bank.student.arraySync();
    for (let i = 0; i < 50; i++) {
      if (index.includes(i)) {
        const norm = Math.hypot(...now[i]!);
        expect(norm).toBeCloseTo(1, 5);
      } else {
        expect(now[i]).toEqual(old[i]);
      }
    }
    // One exact step: row = l2norm(0.5*row + 0.5*v).
    const fresh = new MemoryBank(50, 4, { seed: 2 });
    const row = fresh.teacher.arraySync()[17]!;
    fresh.update(
      Int32Array.from([17]),
      tf.tidy(() => tf.zeros([1, 4]) as tf.Tensor2D),
      tf.tidy(() => tf.ones([1, 4]) as tf.Tensor2D),
      0.5,
    );
    const mixed = row.map((r) => 0.5 * r + 0.5);
    const n = Math.hypot(...mixed);
    const got = fresh.teacher.arraySync()[17]!;
    mixed.forEach((m, j) => {
      expect(got[j]).toBeCloseTo(m / n, 6);
    });
    fresh.dispose();
    v.dispose();
    bank.dispose();
  });

  it('state()/loadState() round-trip; shape and index checks', () => {
    const a = new MemoryBank(10, 3, { seed: 1 });
    const b = new MemoryBank(10, 3, { seed: 2 });
    const before = tf.memory().numTensors;
    b.loadState(a.state());
    expect(tf.memory().numTensors).toBe(before);
    expect(b.student.arraySync()).toEqual(a.student.arraySync());
    expect(b.teacher.arraySync()).toEqual(a.teacher.arraySync());
    // The copy has its own storage: updating it leaves the source untouched (cpu scatters in place).
    const aStudent = a.student.arraySync();
    const one = tf.ones([1, 3]) as tf.Tensor2D;
    b.update(Int32Array.from([4]), one, one, 0.5);
    expect(a.student.arraySync()).toEqual(aStudent);
    expect(b.student.arraySync()[4]).not.toEqual(aStudent[4]);
    one.dispose();
    const c = new MemoryBank(11, 3);
    expect(() => c.loadState(a.state())).toThrow(/must be \[11, 3\]/);
    const v = tf.zeros([1, 3]) as tf.Tensor2D;
    expect(() => a.update(Int32Array.from([10]), v, v, 0.5)).toThrow(/outside the memory bank/);
    v.dispose();
    for (const m of [a, b, c]) m.dispose();
  });
});
