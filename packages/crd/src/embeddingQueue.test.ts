import { isDistillationError } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import '../test/helpers';
import { EmbeddingQueue } from './embeddingQueue';
import { MemoryBank } from './memoryBank';

/** Rows `[b, d]` whose every value is `base + row`, to tell entries apart. */
const rows = (b: number, d: number, base: number) =>
  tf.tensor2d(
    Array.from({ length: b }, (_, i) => Array.from({ length: d }, () => base + i)),
    [b, d],
    'float32',
  );

describe('EmbeddingQueue', () => {
  it('holds exactly 2*K*d*4 bytes whatever N, starts as the banks do (uniform in [-s, s], ids -1), dispose() frees it', () => {
    const before = tf.memory();
    const queue = new EmbeddingQueue(300, 16, { seed: 3 });
    const after = tf.memory();
    expect(queue.bytes).toBe(2 * 300 * 16 * 4);
    expect(after.numBytes - before.numBytes).toBe(queue.bytes);
    expect(after.numTensors - before.numTensors).toBe(2);
    expect(Array.from(queue.ids).every((id) => id === -1)).toBe(true);
    expect(queue.filled).toBe(0);
    expect(queue.pointer).toBe(0);
    const s = MemoryBank.initScale(16);
    const values = queue.teacher.dataSync();
    expect(Math.min(...values)).toBeGreaterThanOrEqual(-s);
    expect(Math.max(...values)).toBeLessThanOrEqual(s);
    expect(Math.max(...values) - Math.min(...values)).toBeGreaterThan(1.9 * s);
    // The two sides are initialised independently.
    expect(Array.from(queue.student.dataSync())).not.toEqual(Array.from(values));
    queue.dispose();
    expect(tf.memory().numBytes).toBe(before.numBytes);
    expect(tf.memory().numTensors).toBe(before.numTensors);
  });

  it('first in, first out: writes at the pointer, wraps around, keeps the last K of a batch larger than K; no memory growth', () => {
    const queue = new EmbeddingQueue(5, 2, { seed: 1 });
    const initial = queue.student.arraySync();
    const start = tf.memory();
    const enqueue = (ids: number[], base: number) => {
      const s = rows(ids.length, 2, base);
      const t = rows(ids.length, 2, -base);
      queue.enqueue(Int32Array.from(ids), s, t);
      tf.dispose([s, t]);
      expect(tf.memory().numTensors).toBe(start.numTensors);
      expect(tf.memory().numBytes).toBe(start.numBytes);
    };
    enqueue([10, 11, 12], 100);
    expect(Array.from(queue.ids)).toEqual([10, 11, 12, -1, -1]);
    expect(queue.pointer).toBe(3);
    expect(queue.filled).toBe(3);
    expect(queue.student.arraySync().slice(0, 3)).toEqual([
      [100, 100],
      [101, 101],
      [102, 102],
    ]);
    expect(queue.student.arraySync().slice(3)).toEqual(initial.slice(3));
    // Wraps: positions 3, 4, 0.
    enqueue([20, 21, 22], 200);
    expect(Array.from(queue.ids)).toEqual([22, 11, 12, 20, 21]);
    expect(queue.pointer).toBe(1);
    expect(queue.student.arraySync()).toEqual([
      [202, 202],
      [101, 101],
      [102, 102],
      [200, 200],
      [201, 201],
    ]);
    expect(queue.teacher.arraySync()[0]).toEqual([-198, -198]); // teacher rows: -200 + row
    // A batch of 7 > K = 5: its last 5 rows, written from where its 3rd row would go; pointer + 7.
    enqueue([30, 31, 32, 33, 34, 35, 36], 300);
    expect(queue.pointer).toBe((1 + 7) % 5);
    expect(Array.from(queue.ids)).toEqual([34, 35, 36, 32, 33]); // row r at (1 + r) mod 5; rows 0, 1 overwritten
    expect(queue.student.arraySync().map((r) => r[0])).toEqual([304, 305, 306, 302, 303]);
    queue.dispose();
  });

  it('state()/loadState() round-trips entries, ids and pointer, with its own storage; refuses a mismatched state before changing anything', () => {
    const a = new EmbeddingQueue(4, 3, { seed: 1 });
    const b = new EmbeddingQueue(4, 3, { seed: 9 });
    const v = rows(3, 3, 7);
    a.enqueue(Int32Array.of(4, 5, 6), v, v);
    const saved = a.state();
    const before = tf.memory().numTensors;
    b.loadState(saved, 10);
    expect(tf.memory().numTensors).toBe(before);
    expect(b.student.arraySync()).toEqual(a.student.arraySync());
    expect(b.teacher.arraySync()).toEqual(a.teacher.arraySync());
    expect(Array.from(b.ids)).toEqual([4, 5, 6, -1]);
    expect(b.pointer).toBe(3);
    // b's later enqueues do not reach a's storage (and the saved ids are a copy).
    tf.tidy(() => b.enqueue(Int32Array.of(1), rows(1, 3, 0), rows(1, 3, 0)));
    expect(a.student.arraySync()[3]).not.toEqual([0, 0, 0]);
    expect(Array.from(saved.ids)).toEqual([4, 5, 6, -1]);

    const snapshot = () => [b.student.arraySync(), Array.from(b.ids), b.pointer];
    const kept = snapshot();
    const wrong = tf.zeros([5, 3]) as tf.Tensor2D;
    for (const [state, fragment] of [
      [{ ...saved, student: wrong }, 'student queue must be [4, 3], got [5,3]'],
      [{ ...saved, ids: [1, 2] }, 'ids must hold 4 example ids, got 2'],
      [{ ...saved, ids: [1, 2, 3, 10] }, 'id 10 of entry 3 is not -1 or an example index in [0, 10)'],
      [{ ...saved, ids: [1, 2, -2, 0] }, 'id -2 of entry 2'],
      [{ ...saved, pointer: 4 }, 'pointer must be an integer in [0, 4), got 4'],
      [{ ...saved, pointer: 1.5 }, 'got 1.5'],
    ] as const) {
      let error: unknown;
      try {
        b.loadState(state as never, 10);
      } catch (e) {
        error = e;
      }
      expect(isDistillationError(error, 'checkpoint-mismatch'), String(error)).toBe(true);
      expect((error as Error).message).toContain(fragment);
      expect(snapshot()).toEqual(kept);
    }
    tf.dispose([v, wrong]);
    a.dispose();
    b.dispose();
  });
});
