import {
  type RandomAccessSource,
  SeededRandom,
  type SequentialSource,
  type SourceBatch,
  shuffleBufferOrder,
  softTargets,
  tensorSource,
} from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectRefused, leakedTensors } from '../test/helpers';
import { bitEvalPreprocess } from './augment';
import { bitFineTune } from './finetune';
import { type HyperRule, hyperRule } from './hyperrule';
import { resNetV2 } from './models';

const tiny = (seed: number, name: string) =>
  resNetV2({
    inputShape: [null, null, 1],
    root: { filters: 8, kernelSize: 3, stride: 1, pool: false },
    stages: [
      { units: 1, cout: 16, stride: 1 },
      { units: 1, cout: 32, stride: 2 },
    ],
    groups: 4,
    classes: 3,
    zeroHead: name === 'teacher',
    seed,
    name,
  });

describe('bitFineTune', () => {
  it('runs exactly the (scaled) HyperRule schedule with SGD momentum, stops at the last boundary', async () => {
    const model = tiny(1, 'teacher');
    const x = tf.randomUniform([10, 8, 8, 1], 0, 1, 'float32', 4);
    const y = tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0], 'int32');
    const base = hyperRule({ trainSize: 10, imageSize: 8, stepsScale: 0.02 });
    const rule = { ...base, resize: 10, crop: 8 }; // scaled-down resolution for the test
    expect(rule.boundaries).toEqual([2, 4, 6, 8, 10]);
    const validation = bitEvalPreprocess({ x, y }, rule);
    let result: Awaited<ReturnType<typeof bitFineTune>> | undefined;
    const leaked = await leakedTensors(async () => {
      result = await bitFineTune(model, { x, y }, rule, { batchSize: 4, seed: 3, validation, mixupAlpha: 0.1 });
    });
    expect(leaked).toBe(0);
    expect(result!.steps).toBe(10); // 3 steps per epoch: stops inside epoch 4
    expect(result!.epochs).toHaveLength(4); // the partial 4th epoch (1 step) is logged too
    expect(result!.learningRates).toEqual(Array.from({ length: 10 }, (_, s) => rule.schedule(s)!));
    expect(result!.losses.every(Number.isFinite)).toBe(true);
    expect(result!.validation!.accuracy).toBeGreaterThanOrEqual(0);
    expect(result!.distiller.describe()).toBe('Loss = 1*ce');

    // the same schedule as a distillation run with the fine-tuned model as teacher
    const student = tiny(2, 'student');
    const kd = await bitFineTune(student, { x, y }, rule, {
      batchSize: 5,
      teacher: model,
      plugins: [softTargets({ temperature: 2, weight: 1 })],
    });
    expect(kd.steps).toBe(10);
    expect(kd.distiller.describe()).toContain('kd(T=2)');
    tf.dispose([x, y, validation.x, validation.y]);
    model.dispose();
    student.dispose();
  });
});

/** A random-access source over plain JS rows (what a file-backed source does); ids `img-<p>`. */
function rowSource(data: { x: tf.Tensor; y: tf.Tensor }, description = 'rows'): RandomAccessSource {
  const n = data.x.shape[0]!;
  const width = data.x.size / n;
  const xs = Array.from(data.x.dataSync());
  const ys = Array.from(data.y.dataSync());
  return {
    kind: 'kd-source',
    size: n,
    exampleShape: data.x.shape.slice(1),
    description,
    read: (positions: Int32Array): SourceBatch => ({
      x: Float32Array.from(Array.from(positions, (p) => xs.slice(p * width, (p + 1) * width)).flat()),
      y: Int32Array.from(positions, (p) => ys[p]!),
      ids: Array.from(positions, (p) => `img-${p}`),
    }),
  };
}

/** The same rows front to back, in chunks of `chunk` (async, like a file). */
function streamSource(data: { x: tf.Tensor; y: tf.Tensor }, chunk = 3): SequentialSource {
  const rows = rowSource(data, 'stream');
  return {
    kind: 'kd-source',
    size: rows.size,
    exampleShape: rows.exampleShape,
    description: 'stream',
    async *stream() {
      for (let start = 0; start < rows.size; start += chunk) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        yield rows.read(Int32Array.from({ length: Math.min(chunk, rows.size - start) }, (_, i) => start + i)) as SourceBatch;
      }
    },
  };
}

describe('bitFineTune on a DataSource', () => {
  const images = (n: number, seed: number) => ({
    x: tf.randomUniform([n, 8, 8, 1], 0, 1, 'float32', seed),
    y: tf.tensor1d(
      Array.from({ length: n }, (_, i) => (i * 7) % 3),
      'int32',
    ),
  });

  /** One run from the same initial model: bits, schedule and the leak count. */
  async function run(data: Parameters<typeof bitFineTune>[1], rule: HyperRule, options: Parameters<typeof bitFineTune>[3]) {
    const model = tiny(5, 'student');
    let result: Awaited<ReturnType<typeof bitFineTune>> | undefined;
    const leaked = await leakedTensors(async () => {
      result = await bitFineTune(model, data, rule, options);
    });
    const weights = model.getWeights().map((w) => Array.from(w.dataSync()));
    model.dispose();
    const { steps, losses, learningRates, epochs, validation } = result!;
    // everything but the wall-clock seconds
    return { leaked, weights, steps, losses, learningRates, epochs: epochs.map(({ seconds: _, ...logs }) => logs), validation };
  }

  it('takes N and shapes from the source: the same bits as the same data as tensors (training and validation)', async () => {
    const data = images(10, 4);
    const rule = { ...hyperRule({ trainSize: 10, imageSize: 8, stepsScale: 0.02 }), resize: 10, crop: 8 };
    const validation = bitEvalPreprocess(data, rule);
    const options = { batchSize: 4, seed: 3, mixupAlpha: 0.1 };
    const expected = await run(data, rule, { ...options, validation });
    expect(expected.leaked).toBe(0);
    expect(expected.steps).toBe(10);
    for (const [train, valid] of [
      [tensorSource(data), tensorSource(validation)],
      [rowSource(data), rowSource(validation)],
    ] as const) {
      const got = await run(train, rule, { ...options, validation: valid });
      expect(got.leaked).toBe(0);
      expect(got).toEqual(expected);
    }
    tf.dispose([data.x, data.y, validation.x, validation.y]);
  });

  it('trains on a front-to-back source: one epoch equals the tensors in the order the shuffle buffer reads them', async () => {
    // 20 examples, batch 2: the 10 steps of the rule are exactly one epoch, so the run on the
    // stream is the run on tensors arranged so that the permutation a random-access source gets
    // reads them in the shuffle buffer's order (both orders keyed by (seed, 'order', epoch 0)).
    const data = images(20, 6);
    const rule = { ...hyperRule({ trainSize: 20, imageSize: 8, stepsScale: 0.02 }), resize: 10, crop: 8 };
    expect(rule.totalSteps).toBe(10);
    const seed = 7;
    const buffered = shuffleBufferOrder(20, 10_000, SeededRandom.keyed(seed, 'order', 0));
    const permutation = SeededRandom.keyed(seed, 'order', 0).permutation(20);
    const arrange = new Int32Array(20);
    permutation.forEach((slot, k) => {
      arrange[slot] = buffered[k]!;
    });
    const arranged = tf.tidy(() => ({ x: tf.gather(data.x, arrange), y: tf.gather(data.y, arrange) as tf.Tensor1D }));
    const validation = bitEvalPreprocess(data, rule);
    const options = { batchSize: 2, seed, mixupAlpha: 0.2 };
    const expected = await run(arranged, rule, { ...options, validation });
    const got = await run(streamSource(data), rule, { ...options, validation: streamSource(validation, 7) });
    expect(got.leaked).toBe(0);
    expect(got.epochs).toHaveLength(1);
    expect(got).toEqual(expected);
    tf.dispose([data.x, data.y, arranged.x, arranged.y, validation.x, validation.y]);
  });

  it('checks a source before any work', async () => {
    const data = images(6, 8);
    const rule = { ...hyperRule({ trainSize: 6, imageSize: 8, stepsScale: 0.02 }), resize: 10, crop: 8 };
    const model = tiny(5, 'student');
    const before = model.getWeights().map((w) => Array.from(w.dataSync()));
    const flat = { ...rowSource(data, 'flat rows'), exampleShape: [64] };
    await expectRefused(
      () => bitFineTune(model, { ...rowSource(data), size: 0 }, rule),
      'bad-source',
      'bitFineTune: training data (rows): size',
    );
    await expectRefused(
      () => bitFineTune(model, flat, rule),
      'bad-images',
      'bitFineTune: training data (flat rows) has examples of shape [64]; BiT preprocessing needs images [H, W, C]',
    );
    await expectRefused(
      () => bitFineTune(model, rowSource(data), rule, { validation: { ...rowSource(data, 'rgb'), exampleShape: [8, 8, 3] } }),
      'bad-input-shape',
      'validation data (rgb): examples have shape [8,8,3]',
    );
    await expectRefused(
      () => bitFineTune(model, data, rule, { validation: { kind: 'kd-source' } as never }),
      'bad-source',
      'validation data',
    );
    expect(model.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(before);
    model.dispose();
    tf.dispose([data.x, data.y]);
  });
});
