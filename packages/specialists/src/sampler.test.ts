import { SeededRandom, type SourceBatch } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectRefused, leakedTensors, rowSource, streamSource } from '../test/helpers';
import { dustbinShift, sampleSpecialistData, specialistLabels, specialistTrainingSet } from './sampler';

function balancedLabels(n: number, classes: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => i % classes);
}

describe('specialist sampler', () => {
  it('maps labels: subset[i] -> i, the rest -> dustbin', () => {
    expect(Array.from(specialistLabels([0, 1, 2, 3, 4], [3, 1]))).toEqual([2, 1, 2, 0, 2]);
  });

  it('draws half from the subset and half from the rest, every subset example once by default', () => {
    const labels = balancedLabels(1000, 10);
    const sample = sampleSpecialistData(labels, [2, 5, 7], { seed: 3 });
    expect(sample.indices.length).toBe(600);
    const fromSubset = Array.from(sample.indices).filter((i) => [2, 5, 7].includes(labels[i]!));
    expect(fromSubset.length).toBe(300);
    expect(new Set(fromSubset).size).toBe(300);
    expect(new Set(sample.indices).size).toBe(600); // the rest drawn without replacement too
    sample.indices.forEach((idx, j) =>
      expect(sample.labels[j]).toBe([2, 5, 7].indexOf(labels[idx]!) === -1 ? 3 : [2, 5, 7].indexOf(labels[idx]!)),
    );
    expect(sample.subsetPrior).toBeCloseTo(0.3, 10);
    expect(sample.dustbinShift).toBeCloseTo(Math.log(7 / 3), 10);
    // A larger sample repeats examples but keeps the half/half split; same seed, same sample.
    const big = sampleSpecialistData(labels, [2, 5, 7], { size: 2000, seed: 1 });
    expect(Array.from(big.labels).filter((l) => l < 3).length).toBe(1000);
    expect(sampleSpecialistData(labels, [2, 5, 7], { size: 2000, seed: 1 }).indices).toEqual(big.indices);
  });

  it('dustbinShift undoes the resampling exactly (Bayes-optimal posteriors on a discrete problem)', () => {
    // Classes 0..5 with priors pi, inputs x in 0..7 with p(x | class); specialist on {1, 4}.
    const random = new SeededRandom(5);
    const pi = [0.3, 0.05, 0.2, 0.15, 0.1, 0.2];
    const lik = pi.map(() => {
      const row = Array.from({ length: 8 }, () => random.next() + 0.05);
      const s = row.reduce((a, b) => a + b, 0);
      return row.map((v) => v / s);
    });
    const subset = [1, 4];
    const piS = pi[1]! + pi[4]!;
    for (const f of [0.5, 0.3, 0.8]) {
      const shift = dustbinShift(piS, f);
      for (let x = 0; x < 8; x++) {
        // Natural posterior folded onto subset + dustbin.
        const joint = pi.map((p, k) => p * lik[k]![x]!);
        const natural = [joint[1]!, joint[4]!, joint.reduce((a, v, k) => (subset.includes(k) ? a : a + v), 0)];
        // Posterior under the training distribution: subset classes f * pi_k / piS, others (1 - f) * pi_k / (1 - piS).
        const train = pi.map((p, k) => (subset.includes(k) ? (f * p) / piS : ((1 - f) * p) / (1 - piS)) * lik[k]![x]!);
        const logits = [
          Math.log(train[1]!),
          Math.log(train[4]!),
          Math.log(train.reduce((a, v, k) => (subset.includes(k) ? a : a + v), 0)) + shift,
        ];
        const z = logits.map(Math.exp);
        const zs = z.reduce((a, b) => a + b, 0);
        const ns = natural.reduce((a, b) => a + b, 0);
        z.forEach((v, i) => expect(v / zs).toBeCloseTo(natural[i]! / ns, 10));
      }
    }
    expect(dustbinShift(0.4, 0.4)).toBeCloseTo(0, 12);
    expect(() => dustbinShift(1)).toThrow(/\(0, 1\)/);
  });

  it('specialistTrainingSet gathers tensors and leaks nothing', async () => {
    const x = tf.tensor2d(Array.from({ length: 40 }, (_, i) => [i, -i]));
    const y = tf.tensor1d(balancedLabels(40, 4), 'int32');
    let out: ReturnType<typeof specialistTrainingSet> | undefined;
    expect(
      (await leakedTensors(() => {
        out = specialistTrainingSet({ x, y }, [3], { seed: 2 });
      })) - 2,
    ).toBe(0);
    const { data, sample } = out!;
    expect(data.x.shape).toEqual([20, 2]);
    expect(Array.from(data.y.dataSync())).toEqual(Array.from(sample.labels));
    const xs = data.x.arraySync() as number[][];
    sample.indices.forEach((idx, j) => expect(xs[j]![0]).toBe(idx));
    tf.dispose([x, y, data.x, data.y]);
    expect(() => sampleSpecialistData([0, 0, 0], [0])).toThrow(/both must be non-zero/);
  });
});

describe('specialist sampler on a DataSource', () => {
  it('samples from the declared labels without reading; the set is a source over the drawn positions (ids kept)', async () => {
    const data = { x: tf.tensor2d(Array.from({ length: 40 }, (_, i) => [i, -i])), y: tf.tensor1d(balancedLabels(40, 4), 'int32') };
    const before = tf.memory().numTensors;
    const rows = rowSource(data);
    expect(sampleSpecialistData(rows, [3], { seed: 2, size: 30 })).toEqual(sampleSpecialistData(rows.labels!, [3], { seed: 2, size: 30 }));
    const tensors = specialistTrainingSet(data, [3], { seed: 2, size: 30 });
    const { data: set, sample } = specialistTrainingSet(rows, [3], { seed: 2, size: 30 });
    expect(sample).toEqual(tensors.sample);
    expect(set.size).toBe(30);
    expect(set.exampleShape).toEqual([2]);
    expect(set.description).toBe('specialist sample for [3] of rows (30 examples)');
    expect(Array.from(set.labels!)).toEqual(Array.from(sample.labels));
    const all = await set.read(Int32Array.from({ length: 30 }, (_, i) => i));
    expect(Array.from(all.x)).toEqual(Array.from(tensors.data.x.dataSync()));
    expect(Array.from(all.y)).toEqual(Array.from(tensors.data.y.dataSync()));
    // 30 draws from 10 subset examples: each id once as is, repeats numbered
    const firstSeen = new Set<number>();
    all.ids.forEach((id, i) => {
      const p = sample.indices[i]!;
      expect(id).toEqual(firstSeen.has(p) ? expect.stringMatching(new RegExp(`^row-${p}#\\d$`)) : `row-${p}`);
      firstSeen.add(p);
    });
    expect(new Set(all.ids).size).toBe(30);
    tf.dispose([tensors.data.x, tensors.data.y]);
    expect(tf.memory().numTensors).toBe(before);

    // front to back: the same draws in stream order, streamed and filtered
    const stream = streamSource(data, { chunk: 6 });
    const streamed = specialistTrainingSet(stream, [3], { seed: 2, size: 30 });
    expect(stream.streams).toBe(0);
    const order = Array.from(sample.indices.keys()).sort((a, b) => sample.indices[a]! - sample.indices[b]! || a - b);
    expect(Array.from(streamed.sample.indices)).toEqual(order.map((o) => sample.indices[o]!));
    expect(Array.from(streamed.sample.labels)).toEqual(order.map((o) => sample.labels[o]!));
    const chunks: SourceBatch[] = [];
    if (!('stream' in streamed.data)) throw new Error('expected a front-to-back source');
    for await (const chunk of streamed.data.stream()) chunks.push(chunk);
    expect(chunks.flatMap((c) => Array.from(c.y))).toEqual(Array.from(streamed.sample.labels));
    expect(chunks.flatMap((c) => Array.from(c.x))).toEqual(Array.from(streamed.sample.indices).flatMap((p) => [p, -p]));
    tf.dispose([data.x, data.y]);
  });

  it('refuses a source without labels, naming the argument', async () => {
    const data = { x: tf.zeros([8, 2]), y: tf.tensor1d(balancedLabels(8, 4), 'int32') };
    await expectRefused(
      () => sampleSpecialistData(rowSource(data, { labels: false }), [1]),
      'no-labels',
      'sampleSpecialistData: argument "labels" (rows) is a DataSource without labels',
    );
    await expectRefused(
      () => specialistTrainingSet(streamSource(data, { labels: false }), [1]),
      'no-labels',
      'specialistTrainingSet: argument "data" (stream) is a DataSource without labels',
    );
    await expectRefused(
      () => specialistTrainingSet({ ...rowSource(data), labels: Int32Array.from([0, 1, 2, 3, 0, 1, 2, -1]) }, [1]),
      'label-out-of-range',
      'label 7 = -1',
    );
    tf.dispose([data.x, data.y]);
  });
});
