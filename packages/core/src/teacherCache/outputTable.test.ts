import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { OutputTable } from './outputTable';

describe('OutputTable reads', () => {
  const logits = tf.randomNormal([12, 5], 0, 2, 'float32', 3) as tf.Tensor2D;
  const feature = tf.randomNormal([12, 2, 3], 0, 1, 'float32', 4);
  const values = { logits: logits.dataSync() as Float32Array, features: { f: feature.dataSync() as Float32Array } };
  const ids = Array.from({ length: 12 }, (_, i) => `e${i}`);
  const rows = Int32Array.from([7, 0, 11, 7, 3]);
  const expected = (t: tf.Tensor) => tf.tidy(() => Array.from(tf.gather(t, tf.tensor1d(rows, 'int32')).dataSync()));

  it('an incomplete table copies rows into new tensors; a complete one gathers from a kept backend copy, with the same values, freed by release()', () => {
    const table = OutputTable.for({ logits, features: { f: feature } }, 12);
    table.write(ids.slice(0, 11), {
      logits: values.logits.subarray(0, 55),
      features: { f: values.features.f.subarray(0, 66) },
    });
    const before = tf.memory().numTensors;
    const partial = table.read(Int32Array.from([7, 0, 3]));
    expect(tf.memory().numTensors).toBe(before + 2); // logits and the feature: no kept copy
    tf.dispose([partial.logits, ...Object.values(partial.features)]);

    table.write(ids.slice(11), { logits: values.logits.subarray(55), features: { f: values.features.f.subarray(66) } });
    expect(table.complete).toBe(true);
    const first = table.read(rows);
    expect(tf.memory().numTensors).toBe(before + 2 + 2); // + the kept copies of both fields
    const second = table.read(rows);
    expect(tf.memory().numTensors).toBe(before + 6); // the copies are made once
    for (const out of [first, second]) {
      expect(out.logits.shape).toEqual([5, 5]);
      expect(Array.from(out.logits.dataSync())).toEqual(expected(logits));
      expect(out.features.f!.shape).toEqual([5, 2, 3]);
      expect(Array.from(out.features.f!.dataSync())).toEqual(expected(feature));
    }
    tf.dispose([first.logits, first.features.f!, second.logits, second.features.f!]);
    table.release();
    expect(tf.memory().numTensors).toBe(before);
    // After release the next read makes the copies again.
    const third = table.read(rows);
    expect(Array.from(third.logits.dataSync())).toEqual(expected(logits));
    tf.dispose([third.logits, third.features.f!]);
    table.release();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('OutputTable ids', () => {
  it('positions (integers in [0, size)) and every other id (strings, negatives, fractions, integers >= size) find their rows', () => {
    const size = 8;
    const logits = tf.tensor2d(
      Array.from({ length: size * 2 }, (_, i) => i),
      [size, 2],
    );
    const table = OutputTable.for({ logits, features: {} }, size);
    // Written in this order: rows 0..7 go to these ids.
    const ids = [5, 'five', 0, -1, 2.5, 8, 1e9, 7];
    table.write(ids, { logits: logits.dataSync() as Float32Array, features: {} });
    expect(Array.from(table.rowsOf(ids))).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(Array.from(table.rowsOf([7, 5, 'five', 1e9]))).toEqual([7, 0, 1, 6]);
    // Never written: a position without a row, an unknown string, numbers beside written ones.
    expect(Array.from(table.rowsOf([1, 'six', 2, -2, 2.25, 9]))).toEqual([-1, -1, -1, -1, -1, -1]);
    // Writing an id again overwrites its row and takes no new one.
    table.write([0], { logits: Float32Array.from([100, 101]), features: {} });
    expect(Array.from(table.rowsOf([0]))).toEqual([2]);
    expect(table.filledCount).toBe(size);
    const read = table.read(table.rowsOf([0, 'five']));
    expect(Array.from(read.logits.dataSync())).toEqual([100, 101, 2, 3]);
    tf.dispose([read.logits, logits]);
    table.release();
  });

  it('a stored record that repeats a position id or a string id is refused', () => {
    const values = new Float32Array(6);
    const record = (ids: (number | string)[]) => ({ size: 3, ids, fields: { logits: { rowShape: [2], values } } });
    expect(() => OutputTable.fromRecord(record([0, 1, 0]), 3, [], 'r')).toThrow(/repeats example id 0/);
    expect(() => OutputTable.fromRecord(record(['a', 'b', 'a']), 3, [], 'r')).toThrow(/repeats example id "a"/);
    expect(Array.from(OutputTable.fromRecord(record([2, 'a', 0]), 3, [], 'r').rowsOf([0, 2, 'a', 1]))).toEqual([2, 0, 1, -1]);
  });
});
