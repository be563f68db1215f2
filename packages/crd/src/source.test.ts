import { Distiller, hardLabel, type SequentialSource, type SourceBatch, sgd, tensorSource } from '@kd/core';
import { expectRefused } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { disposeData, mlp, toyData } from '../test/helpers';
import { crd } from './plugin';

describe('crd on a DataSource', () => {
  const labelless = (data: ReturnType<typeof toyData>) => {
    const { labels: _, ...source } = { ...tensorSource(data), labels: undefined };
    return source;
  };

  it("refuses class-aware negatives on a source without labels, naming the option; trains with classAware: false and with 'shared'", async () => {
    const data = toyData(40, 6, 3, 4);
    const before = tf.memory().numTensors;
    const make = (options: Partial<Parameters<typeof crd>[0]>) => {
      const student = mlp(6, 8, 3, 1, 's');
      const teacher = mlp(6, 8, 3, 2, 't');
      const optimizer = sgd({ learningRate: 0.05 });
      const distiller = new Distiller({ student, teacher, optimizer })
        .use(hardLabel())
        .use(crd({ student: 's_pool', teacher: 't_pool', featureDim: 8, negatives: 16, ...options }));
      return {
        distiller,
        optimizer,
        dispose: () => {
          distiller.dispose();
          optimizer.dispose();
          student.dispose();
          teacher.dispose();
        },
      };
    };
    const refused = make({});
    await expectRefused(
      () => refused.distiller.fit(labelless(data), { epochs: 1, batchSize: 8 }),
      'no-labels',
      'option "classAware" (default true)',
    );
    expect(refused.optimizer.iterations).toBe(0);
    refused.dispose();
    for (const options of [{ classAware: false }, { sampling: 'shared' as const }]) {
      const ok = make(options);
      const history = await ok.distiller.fit(labelless(data), { epochs: 1, batchSize: 8 });
      expect(Number.isFinite(history.epochs[0]!.terms['crd']!)).toBe(true);
      expect(ok.optimizer.iterations).toBe(5);
      ok.dispose();
    }
    // With labels (tensors, or a source that gives them) class-aware sampling works as before.
    const withLabels = make({});
    const labels = Int32Array.from(data.y.dataSync());
    await withLabels.distiller.fit({ ...tensorSource(data), labels }, { epochs: 1, batchSize: 8 });
    withLabels.dispose();
    expect(tf.memory().numTensors).toBe(before);
    disposeData(data);
  });

  it('trains on a front-to-back source: its memory banks sized by the source, bit-identical to tensors read in the same order', async () => {
    const data = toyData(30, 6, 3, 7);
    const before = tf.memory().numTensors;
    const rows = tensorSource(data);
    const labels = Int32Array.from(data.y.dataSync());
    const stream: SequentialSource = {
      kind: 'kd-source',
      size: rows.size,
      exampleShape: rows.exampleShape,
      labels,
      async *stream() {
        for (let start = 0; start < rows.size; start += 4) {
          yield rows.read(Int32Array.from({ length: Math.min(4, rows.size - start) }, (_, i) => start + i)) as SourceBatch;
        }
      },
    };
    const train = async (input: SequentialSource | typeof data, shuffle: boolean) => {
      const student = mlp(6, 8, 3, 1, 's');
      const teacher = mlp(6, 8, 3, 2, 't');
      const optimizer = sgd({ learningRate: 0.05 });
      const distiller = new Distiller({ student, teacher, optimizer, seed: 3 })
        .use(hardLabel())
        .use(crd({ student: 's_pool', teacher: 't_pool', featureDim: 8, negatives: 12 }));
      await distiller.fit(input, { epochs: 2, batchSize: 7, shuffle, shuffleBuffer: 8 });
      const bank = (await distiller.checkpoint()).plugins['crd']!.tensors.find((t) => t.name.includes('student'))!;
      const weights = student.getWeights().map((w) => Array.from(w.dataSync()));
      distiller.dispose();
      optimizer.dispose();
      student.dispose();
      teacher.dispose();
      return { weights, bankShape: bank.shape };
    };
    const fromTensors = await train(data, false);
    const fromStream = await train(stream, false);
    expect(fromStream.weights).toEqual(fromTensors.weights);
    expect(fromStream.bankShape).toEqual([30, 8]);
    const shuffled = await train(stream, true);
    expect(shuffled.weights).not.toEqual(fromStream.weights);
    expect(tf.memory().numTensors).toBe(before);
    disposeData(data);
  });
});
