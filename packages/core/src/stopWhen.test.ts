import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { disposeData, mlp, toyData } from '../test/helpers';
import { memoryCheckpointStore } from './checkpoint';
import { Distiller } from './distiller';
import type { EpochLogs } from './events';
import { adam } from './optimizers/adam';
import { hardLabel } from './plugins/hardLabel';

describe('fit({ stopWhen })', () => {
  it('ends the fit after the epoch it answers true for; a later fit continues from the next epoch, equal to an uninterrupted run', async () => {
    const data = toyData(64, 4, 3, 1);
    const run = async (stopAt: number | undefined) => {
      const student = mlp(4, 7, 3, 5);
      const optimizer = adam({ learningRate: 0.01 });
      const distiller = new Distiller({ student, optimizer, seed: 3 }).use(hardLabel());
      const store = memoryCheckpointStore();
      const asked: number[] = [];
      const first = await distiller.fit(data, {
        epochs: 4,
        batchSize: 16,
        checkpoint: store,
        stopWhen: (logs: EpochLogs, history) => {
          asked.push(logs.epoch);
          expect(history.at(-1)).toBe(logs);
          return logs.epoch === stopAt;
        },
      });
      const saved = await store.load();
      const rest = await distiller.fit(data, { epochs: 4, batchSize: 16 });
      const weights = await Promise.all(student.getWeights().map((w) => w.data()));
      distiller.dispose();
      optimizer.dispose();
      student.dispose();
      return { first: first.epochs.length, asked, savedEpoch: saved?.epoch, rest: rest.epochs.length, weights };
    };
    const before = tf.memory().numTensors;
    const stopped = await run(1);
    const straight = await run(undefined);
    expect(tf.memory().numTensors).toBe(before);
    expect(stopped.first).toBe(2);
    expect(stopped.asked).toEqual([0, 1]);
    expect(stopped.savedEpoch).toBe(2);
    expect(straight.first).toBe(4);
    expect(straight.asked).toEqual([0, 1, 2, 3]);
    expect(stopped.rest).toBe(4);
    expect(stopped.weights).toEqual(straight.weights);
    disposeData(data);
  });

  it('is an option: a non-function is refused before training', async () => {
    const data = toyData(16, 4, 3, 2);
    const student = mlp(4, 7, 3, 5);
    const distiller = new Distiller({ student, optimizer: adam(), seed: 3 }).use(hardLabel());
    await expect(distiller.fit(data, { epochs: 1, stopWhen: true as never })).rejects.toThrow(
      'fit: option "stopWhen" must be a function (logs, history) => boolean, got true',
    );
    await expect(distiller.fit(data, { epochs: 2, stopWhen: (async () => false) as never })).rejects.toThrow(
      'fit: option "stopWhen" must return true or false, got a Promise (it must not be async)',
    );
    distiller.dispose();
    student.dispose();
    disposeData(data);
  });
});
