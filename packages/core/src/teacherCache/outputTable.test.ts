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
