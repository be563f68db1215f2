import { tensorSource } from '@kd/core';
import { disposeData, toyData } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectRefused, leakedTensors, mlp, rowSource, streamSource } from '../test/helpers';
import { generalistProbabilities } from './probabilities';
import { confusableSubsets } from './subsets';

describe('generalistProbabilities', () => {
  it('gives the same bits on tensors, { x, y }, tensorSource, a row-backed and a front-to-back source', async () => {
    const generalist = mlp(4, 8, 6, 3, 'gen');
    const data = toyData(50, 4, 6, 5);
    const expected = tf.tidy(() => tf.softmax(generalist.predict(data.x) as tf.Tensor2D).arraySync());
    const stream = streamSource(data, { chunk: 7 });
    for (const input of [data.x, data, tensorSource(data), rowSource(data), stream]) {
      let rows: number[][] = [];
      const leaked = await leakedTensors(async () => {
        const probs = await generalistProbabilities(generalist, input, { batchSize: 50 });
        rows = probs.arraySync();
        probs.dispose();
      });
      expect(leaked).toBe(0);
      expect(rows).toEqual(expected);
    }
    expect(stream.streams).toBe(1);
    // smaller batches, several reads: the same rows in position order
    const batched = await generalistProbabilities(generalist, stream, { batchSize: 16 });
    expect(batched.shape).toEqual([50, 6]);
    const direct = await generalistProbabilities(generalist, data.x, { batchSize: 16 });
    expect(batched.arraySync()).toEqual(direct.arraySync());
    tf.dispose([batched, direct]);
    generalist.dispose();
    disposeData(data);
  });

  it("feeds confusableSubsets, with the source's declared labels for the confusion method", async () => {
    const generalist = mlp(4, 8, 6, 3, 'gen');
    const data = toyData(60, 4, 6, 6);
    const stream = streamSource(data, { chunk: 9 });
    const probs = await generalistProbabilities(generalist, stream);
    const options = { clusters: 2, method: 'confusion' as const, seed: 1 };
    const fromArray = confusableSubsets(probs, { ...options, labels: Array.from(data.y.dataSync()) });
    expect(confusableSubsets(probs, { ...options, labels: stream })).toEqual(fromArray);
    expect(stream.streams).toBe(1); // the labels are the declared ones: nothing more is read
    await expectRefused(
      () => confusableSubsets(probs, { ...options, labels: streamSource(data, { labels: false }) }),
      'no-labels',
      'confusableSubsets: option "labels" (stream) is a DataSource without labels',
    );
    const few = toyData(10, 4, 6, 1);
    const fewRows = rowSource(few);
    disposeData(few);
    await expectRefused(
      () => confusableSubsets(probs, { ...options, labels: fewRows }),
      'label-count-mismatch',
      '10 labels for 60 predictions',
    );
    probs.dispose();
    generalist.dispose();
    disposeData(data);
  });

  it('checks its arguments before any work', async () => {
    const generalist = mlp(4, 8, 6, 3, 'gen');
    const data = toyData(10, 4, 6, 7);
    const wide = toyData(10, 5, 6, 7);
    await expectRefused(
      () => generalistProbabilities(generalist, data, { batchsize: 2 } as never),
      'unknown-option',
      'did you mean "batchSize"',
    );
    await expectRefused(() => generalistProbabilities(generalist, data, { batchSize: 0 }), 'bad-option', 'option "batchSize"');
    await expectRefused(() => generalistProbabilities(5 as never, data), 'bad-teacher', 'generalistProbabilities: the generalist must be');
    await expectRefused(() => generalistProbabilities(generalist, { y: data.y } as never), 'bad-data', 'data must be an input tensor');
    const empty = tf.zeros([0, 4]);
    await expectRefused(() => generalistProbabilities(generalist, empty), 'empty-data', 'the data has no examples');
    empty.dispose();
    await expectRefused(
      () => generalistProbabilities(generalist, { ...rowSource(data), size: -1 }),
      'bad-source',
      'generalistProbabilities: data (rows): size must be',
    );
    await expectRefused(() => generalistProbabilities(generalist, rowSource(wide)), 'bad-input-shape', 'examples have shape [5]');
    await expectRefused(
      () => generalistProbabilities((x: tf.Tensor) => tf.zeros([x.shape[0]!]), data),
      'bad-probabilities',
      "the generalist's logits have shape [10] for 10 examples",
    );
    generalist.dispose();
    disposeData(data);
    disposeData(wide);
  });
});
