import { expectRefused } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { disposeData, mlp, toyData } from '../test/helpers';
import { Distiller } from './distiller';
import { evaluateModel } from './evaluate';
import { sgd } from './optimizers/sgd';
import { definePlugin } from './plugin';
import { hardLabel } from './plugins/hardLabel';
import { softTargets } from './plugins/softTargets';
import { type DataSource, type SourceBatch, tensorSource } from './source';

/** A source over plain JS rows (no tensor until read): what a file- or database-backed source does. */
function rowSource(data: { x: tf.Tensor; y: tf.Tensor1D }, labels = true): DataSource & { reads: number } {
  const xs = data.x.arraySync() as number[][];
  const ys = Array.from(data.y.dataSync());
  const source = {
    kind: 'kd-source' as const,
    size: xs.length,
    ...(labels ? { labels: Int32Array.from(ys) } : {}),
    description: 'rows',
    reads: 0,
    read(positions: Int32Array) {
      source.reads++;
      return {
        x: tf.tensor2d(Array.from(positions, (p) => xs[p]!)),
        y: tf.tensor1d(
          Array.from(positions, (p) => ys[p]!),
          'int32',
        ),
        ids: Array.from(positions, (p) => `row-${p}`),
      };
    },
  };
  return source;
}

function run(data: Parameters<Distiller['fit']>[0], seed = 3) {
  const student = mlp(6, 10, 3, 100);
  const teacher = mlp(6, 12, 3, 200);
  const optimizer = sgd({ learningRate: 0.1, momentum: 0.9 });
  const distiller = new Distiller({ student, teacher, optimizer, seed })
    .use(hardLabel({ weight: 0.5 }))
    .use(softTargets({ temperature: 2 }));
  return {
    distiller,
    student,
    optimizer,
    async fit(options: Parameters<Distiller['fit']>[1]) {
      const history = await distiller.fit(data, options);
      return { history, weights: student.getWeights().map((w) => Array.from(w.dataSync())) };
    },
    dispose() {
      distiller.dispose();
      optimizer.dispose();
      student.dispose();
      teacher.dispose();
    },
  };
}

describe('DataSource: training from a source instead of one tensor', () => {
  it('fit(source) trains bit-identically to fit({ x, y }) (tensorSource and a row-backed source)', async () => {
    const data = toyData(36, 6, 3, 5);
    const before = tf.memory().numTensors;
    const validation = toyData(12, 6, 3, 15);
    const results = [];
    for (const [input, valid] of [
      [data, validation],
      [tensorSource(data), tensorSource(validation)],
      [rowSource(data), rowSource(validation)],
    ] as const) {
      const r = run(input);
      results.push(await r.fit({ epochs: 3, batchSize: 8, validation: valid }));
      r.dispose();
    }
    expect(results[2]!.history.epochs.map((e) => e.validation?.accuracy)).toEqual(
      results[0]!.history.epochs.map((e) => e.validation?.accuracy),
    );
    disposeData(validation);
    expect(results[1]!.weights).toEqual(results[0]!.weights);
    expect(results[2]!.weights).toEqual(results[0]!.weights);
    expect(results[2]!.history.epochs.map((e) => e.terms)).toEqual(results[0]!.history.epochs.map((e) => e.terms));
    expect(tf.memory().numTensors).toBe(before);
    disposeData(data);
  });

  it("passes the source's labels and ids to the plugins, and reads each batch from it", async () => {
    const data = toyData(20, 6, 3, 6);
    const seen: { labels?: number; ids: (string | number)[] } = { ids: [] };
    const spy = definePlugin<void>({
      name: 'spy',
      setup: (ctx) => {
        seen.labels = ctx.labels?.length;
      },
      afterStep: ({ batch }) => void seen.ids.push(...(batch.ids ?? [])),
    });
    for (const labels of [true, false]) {
      seen.ids = [];
      const source = rowSource(data, labels);
      const r = run(source);
      r.distiller.use(spy);
      await r.fit({ epochs: 1, batchSize: 8 });
      expect(seen.labels).toBe(labels ? 20 : undefined);
      expect(new Set(seen.ids)).toEqual(new Set(Array.from({ length: 20 }, (_, i) => `row-${i}`)));
      expect(source.reads).toBe(1 + 3); // the probe of example 0, then 3 batches
      expect(r.distiller.teacherCacheStats()).toMatchObject({ active: false, reason: expect.stringContaining('DataSource') });
      r.dispose();
    }
    disposeData(data);
  });

  it('evaluates a source like the same tensors', async () => {
    const data = toyData(30, 6, 3, 7);
    const model = mlp(6, 10, 3, 100);
    const a = await evaluateModel(model, data, { batchSize: 7 });
    const b = await evaluateModel(model, rowSource(data), { batchSize: 7 });
    expect(b.accuracy).toBe(a.accuracy);
    expect(b.loss).toBeCloseTo(a.loss, 6);
    model.dispose();
    disposeData(data);
  });

  it('finds a NaN at the batch that reads it, before that batch updates anything', async () => {
    const data = toyData(20, 6, 3, 8);
    const source = rowSource(data);
    const read = source.read;
    source.read = (positions) => {
      const batch = read(positions) as SourceBatch;
      if (!positions.includes(9)) return batch;
      const values = batch.x.arraySync() as number[][];
      values[positions.indexOf(9)]![2] = Number.NaN;
      batch.x.dispose();
      return { ...batch, x: tf.tensor2d(values) };
    };
    const before = tf.memory().numTensors;
    const r = run(source);
    const error = await r.distiller.fit(source, { epochs: 1, batchSize: 4, shuffle: false }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'non-finite-input', message: expect.stringContaining('x of example row-9 (position 9)') });
    expect(r.optimizer.iterations).toBe(2); // batches 0-3 and 4-7 trained; 8-11 refused before its update
    r.dispose();
    expect(tf.memory().numTensors).toBe(before);
    disposeData(data);
  });

  const bad: [string, (source: DataSource) => DataSource, string, string][] = [
    ['size 0', (s) => ({ ...s, size: 0 }), 'bad-source', 'size must be a positive integer, got 0'],
    ['fractional size', (s) => ({ ...s, size: 2.5 }), 'bad-source', 'size must be a positive integer, got 2.5'],
    ['no read()', (s) => ({ ...s, read: undefined as never }), 'bad-source', 'a source needs read(positions)'],
    [
      'labels of another length',
      (s) => ({ ...s, labels: new Int32Array(3) }),
      'bad-source',
      'labels must be an Int32Array of the 20 examples, got 3 labels',
    ],
    ['labels as an array', (s) => ({ ...s, labels: [0, 1] as never }), 'bad-source', 'got object'],
    [
      'a label out of range',
      (s) => ({ ...s, labels: Int32Array.from({ length: 20 }, (_, i) => (i === 7 ? 5 : 0)) }),
      'label-out-of-range',
      'label 7 = 5',
    ],
    [
      'read() returns too few examples',
      (s) => ({ ...s, read: (p) => s.read(p.subarray(0, Math.max(1, p.length - 1))) }),
      'bad-source',
      'read() of',
    ],
    [
      'read() returns no ids',
      (s) => ({ ...s, read: async (p) => ({ ...(await s.read(p)), ids: undefined as never }) }),
      'bad-source',
      'returned no ids',
    ],
    [
      'read() returns arrays',
      (s) => ({ ...s, read: () => ({ x: [[1]], y: [0], ids: [0] }) as never }),
      'bad-source',
      'must return { x, y, ids } with tensors',
    ],
    [
      'examples of another shape',
      (s) => ({ ...s, read: (p) => ({ x: tf.zeros([p.length, 5]), y: tf.zeros([p.length], 'int32') as tf.Tensor1D, ids: Array.from(p) }) }),
      'bad-input-shape',
      'x has example shape [5] but the student expects [6]',
    ],
    [
      'a label read out of range',
      (s) => ({
        ...s,
        read: (p) => ({ x: tf.zeros([p.length, 6]), y: tf.fill([p.length], 4, 'int32') as tf.Tensor1D, ids: Array.from(p) }),
      }),
      'label-out-of-range',
      'has label 4',
    ],
  ];
  for (const [what, edit, code, fragment] of bad) {
    it(`refuses a source with ${what} before any step (${code})`, async () => {
      const data = toyData(20, 6, 3, 9);
      const source = edit(rowSource(data));
      const r = run(source);
      await expectRefused(() => r.distiller.fit(source, { epochs: 1, batchSize: 8 }), code, fragment);
      expect(r.optimizer.iterations).toBe(0);
      r.dispose();
      disposeData(data);
    });
  }
});
