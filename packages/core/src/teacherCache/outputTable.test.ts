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

describe('OutputTable in position order (in-memory tensors)', () => {
  const size = 10;
  const logits = tf.randomNormal([size, 4], 0, 2, 'float32', 7) as tf.Tensor2D;
  const feature = tf.randomNormal([size, 3], 0, 1, 'float32', 8);
  // Written in a shuffled order of positions, in two batches, so row r is not example r.
  const order = [6, 2, 9, 0, 4, 8, 1, 3, 7, 5];
  const gatherValues = (t: tf.Tensor, at: number[]) => tf.tidy(() => Array.from(tf.gather(t, tf.tensor1d(at, 'int32')).dataSync()));
  const filled = () => {
    const table = OutputTable.for({ logits, features: { f: feature } }, size);
    for (const part of [order.slice(0, 6), order.slice(6)]) {
      table.write(part, {
        logits: Float32Array.from(gatherValues(logits, part)),
        features: { f: Float32Array.from(gatherValues(feature, part)) },
      });
    }
    return table;
  };

  it('gathers the examples at a batch of positions by that tensor, the values read() gives at their rows', () => {
    const table = filled();
    const before = tf.memory().numTensors;
    const at = [3, 3, 0, 9, 5];
    const positions = tf.tensor1d(at, 'int32');
    const out = table.readPositions(positions)!;
    expect(out).toBeDefined();
    expect(Array.from(out.logits.dataSync())).toEqual(gatherValues(logits, at));
    expect(Array.from(out.features.f!.dataSync())).toEqual(gatherValues(feature, at));
    // read() of the same examples' rows (it maps rows back to positions on the position-ordered copy).
    const byRows = table.read(table.rowsOf(at));
    expect(Array.from(byRows.logits.dataSync())).toEqual(gatherValues(logits, at));
    expect(Array.from(byRows.features.f!.dataSync())).toEqual(gatherValues(feature, at));
    tf.dispose([out.logits, out.features.f!, byRows.logits, byRows.features.f!, positions]);
    expect(tf.memory().numTensors).toBe(before + 2); // the kept copies
    table.release();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('is not offered for an incomplete table or one with an id that is not a position', () => {
    const positions = tf.tensor1d([0, 1], 'int32');
    const partial = OutputTable.for({ logits, features: {} }, size);
    partial.write([0, 1], { logits: new Float32Array(8), features: {} });
    expect(partial.readPositions(positions)).toBeUndefined();

    const mixed = OutputTable.for({ logits, features: {} }, size);
    mixed.write([...order.slice(1), 'ten'], { logits: logits.dataSync() as Float32Array, features: {} });
    expect(mixed.complete).toBe(true);
    expect(mixed.readPositions(positions)).toBeUndefined();
    // Row order is kept there: read() of rows still gives each id's values.
    const read = mixed.read(mixed.rowsOf(['ten']));
    expect(Array.from(read.logits.dataSync())).toEqual(Array.from(logits.dataSync().subarray(36, 40)));
    tf.dispose([read.logits, positions]);
    mixed.release();
  });
});
