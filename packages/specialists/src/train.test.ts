import { type DataSource, Distiller, hardLabel, type LabeledData, type SourceBatch, tensorSource } from '@kd/core';
import { disposeData, toyData } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectRefused, leakedTensors, mlp, rowSource, streamSource, weightsOf } from '../test/helpers';
import { shiftDustbin, specialistModel } from './specialist';
import { trainSpecialist } from './train';

const subset = [1, 3];

/** `tensorSource` with the labels it does not declare itself (the sampler needs them). */
function labelledTensorSource(data: LabeledData): DataSource {
  return { ...tensorSource(data), labels: Int32Array.from(data.y.dataSync()) };
}

/** trainSpecialist on `input` from a fresh copy of the generalist: the specialist's weights, history and sample. */
async function run(input: LabeledData | DataSource, options: { size?: number; seed?: number } = {}) {
  const generalist = mlp(4, 8, 5, 11, 'gen');
  const model = specialistModel(generalist, subset);
  const optimizer = tf.train.sgd(0.2); // holds its learning-rate scalar: made before counting
  let result: Awaited<ReturnType<typeof trainSpecialist>> | undefined;
  const leaked = await leakedTensors(async () => {
    result = await trainSpecialist(model, input, subset, { optimizer, epochs: 2, batchSize: 8, seed: options.seed ?? 4, ...options });
  });
  const out = { weights: weightsOf(model), history: result!.history, sample: result!.sample, leaked };
  optimizer.dispose();
  model.dispose();
  generalist.dispose();
  return out;
}

describe('trainSpecialist on a DataSource', () => {
  it('gives the same bits as the same data as tensors (tensorSource and a row-backed source), also oversampled', async () => {
    const data = toyData(60, 4, 5, 2);
    const before = tf.memory().numTensors;
    for (const size of [undefined, 150]) {
      const options = size === undefined ? {} : { size }; // 150 > 60 examples: every example drawn more than once
      const expected = await run(data, options);
      expect(expected.leaked).toBe(0);
      for (const source of [labelledTensorSource(data), rowSource(data)]) {
        const got = await run(source, options);
        expect(got.leaked).toBe(0);
        expect(got.sample).toEqual(expected.sample);
        expect(got.weights).toEqual(expected.weights);
        expect(got.history.epochs.map((e) => e.loss)).toEqual(expected.history.epochs.map((e) => e.loss));
      }
    }
    expect(tf.memory().numTensors).toBe(before);
    disposeData(data);
  });

  it('trains on a front-to-back source: the same draws in stream order, the bits of those rows streamed', async () => {
    const data = toyData(60, 4, 5, 3);
    const stream = streamSource(data, { chunk: 7 });
    const got = await run(stream, { size: 90 });
    expect(got.leaked).toBe(0);
    expect(stream.streams).toBe(2); // once per epoch, nothing read to draw the sample
    const drawn = (await run(data, { size: 90 })).sample;
    expect(Array.from(got.sample.indices)).toEqual(Array.from(drawn.indices).sort((a, b) => a - b));
    expect(got.sample.dustbinShift).toBe(drawn.dustbinShift);

    // The expected run: a hand-written stream of exactly the sampled rows with specialist labels.
    const rows = rowSource(data);
    const { indices, labels } = got.sample;
    const sampled: DataSource = {
      kind: 'kd-source',
      size: indices.length,
      exampleShape: [4],
      labels,
      async *stream() {
        for (let start = 0; start < indices.length; start += 11) {
          const positions = indices.subarray(start, start + 11);
          const batch = rows.read(positions) as SourceBatch;
          yield { ...batch, y: labels.slice(start, start + 11), ids: Array.from(positions, (p, i) => `${p}@${start + i}`) };
        }
      },
    };
    const generalist = mlp(4, 8, 5, 11, 'gen');
    const model = specialistModel(generalist, subset);
    const optimizer = tf.train.sgd(0.2);
    const distiller = new Distiller({ student: model, optimizer, seed: 4 }).use(hardLabel());
    await distiller.fit(sampled, { epochs: 2, batchSize: 8 });
    distiller.dispose();
    shiftDustbin(model, got.sample.dustbinShift);
    expect(got.weights).toEqual(weightsOf(model));
    optimizer.dispose();
    model.dispose();
    generalist.dispose();
    disposeData(data);
  });

  it('refuses a source without labels (naming the argument), a bad source or a shape the specialist cannot take, before training', async () => {
    const data = toyData(20, 4, 5, 4);
    const generalist = mlp(4, 8, 5, 11, 'gen');
    const model = specialistModel(generalist, subset);
    const wide = toyData(20, 6, 5, 4);
    const optimizer = tf.train.sgd(0.2);
    const before = weightsOf(model);
    const options = { optimizer, epochs: 1 };
    await expectRefused(
      () => trainSpecialist(model, rowSource(data, { labels: false, description: 'unlabelled rows' }), subset, options),
      'no-labels',
      'trainSpecialist: argument "data" (unlabelled rows) is a DataSource without labels',
    );
    await expectRefused(
      () => trainSpecialist(model, streamSource(data, { labels: false }), subset, options),
      'no-labels',
      'argument "data" (stream) is a DataSource without labels',
    );
    await expectRefused(
      () => trainSpecialist(model, { ...rowSource(data), size: 0 }, subset, options),
      'bad-source',
      'trainSpecialist: argument "data" (rows): size must be a positive integer',
    );
    await expectRefused(
      () => trainSpecialist(model, { ...rowSource(data), labels: new Int32Array(3) }, subset, options),
      'bad-source',
      'labels must be an Int32Array of the 20 examples',
    );
    await expectRefused(() => trainSpecialist(model, rowSource(wide), subset, options), 'bad-input-shape', 'examples have shape [6]');
    await expectRefused(
      () => trainSpecialist(model, { ...rowSource(data), labels: new Int32Array(20).fill(1) }, [1], options),
      'subset-without-examples',
      '20 examples of the subset [1] and 0 of other classes',
    );
    expect(weightsOf(model)).toEqual(before);
    optimizer.dispose();
    model.dispose();
    generalist.dispose();
    disposeData(data);
    disposeData(wide);
  });
});
