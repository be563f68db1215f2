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
import { SeededRandom } from './random';
import { shuffleBufferOrder } from './shuffleBuffer';
import { type DataSource, type RandomAccessSource, type SequentialSource, type SourceBatch, tensorSource } from './source';

/** A source over plain JS rows: what a file- or database-backed source does. */
function rowSource(data: { x: tf.Tensor; y: tf.Tensor1D }, labels = true): RandomAccessSource & { reads: number } {
  const xs = data.x.arraySync() as number[][];
  const ys = Array.from(data.y.dataSync());
  const source = {
    kind: 'kd-source' as const,
    size: xs.length,
    exampleShape: [xs[0]!.length],
    ...(labels ? { labels: Int32Array.from(ys) } : {}),
    description: 'rows',
    reads: 0,
    read(positions: Int32Array): SourceBatch {
      source.reads++;
      return {
        x: Float32Array.from(Array.from(positions, (p) => xs[p]!).flat()),
        y: Int32Array.from(positions, (p) => ys[p]!),
        ids: Array.from(positions, (p) => `row-${p}`),
      };
    },
  };
  return source;
}

/** The same rows, readable only front to back, in chunks of `chunk` (async, like a file). */
function streamSource(data: { x: tf.Tensor; y: tf.Tensor1D }, chunk = 5): SequentialSource & { streams: number } {
  const rows = rowSource(data);
  const source = {
    kind: 'kd-source' as const,
    size: rows.size,
    exampleShape: rows.exampleShape,
    labels: rows.labels,
    description: 'stream',
    streams: 0,
    async *stream() {
      source.streams++;
      for (let start = 0; start < rows.size; start += chunk) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        yield rows.read(Int32Array.from({ length: Math.min(chunk, rows.size - start) }, (_, i) => start + i));
      }
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
      const starts: unknown[] = [];
      await r.fit({ epochs: 1, batchSize: 8, onEvent: (e) => void (e.type === 'fit-start' && starts.push(e.teacherCache)) });
      // The run's log says why the cache is off.
      expect(starts).toEqual([{ active: false, reason: expect.stringContaining('the training data is a DataSource') }]);
      expect(seen.labels).toBe(labels ? 20 : undefined);
      expect(new Set(seen.ids)).toEqual(new Set(Array.from({ length: 20 }, (_, i) => `row-${i}`)));
      expect(source.reads).toBe(3); // 3 batches; nothing is read to probe the models
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
      if (positions.includes(9)) batch.x[positions.indexOf(9) * 6 + 2] = Number.NaN;
      return batch;
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

  const outsiders: tf.Tensor[] = [];
  const bad: [string, (source: RandomAccessSource) => DataSource, string, string][] = [
    ['size 0', (s) => ({ ...s, size: 0 }), 'bad-source', 'size must be a positive integer, got 0'],
    ['fractional size', (s) => ({ ...s, size: 2.5 }), 'bad-source', 'size must be a positive integer, got 2.5'],
    ['no read() or stream()', (s) => ({ ...s, read: undefined as never }), 'bad-source', 'it has neither'],
    ['both read() and stream()', (s) => ({ ...s, stream: () => [] }), 'bad-source', 'it has both'],
    ['no exampleShape', (s) => ({ ...s, exampleShape: undefined as never }), 'bad-source', 'exampleShape must be a non-empty list'],
    [
      'a zero in exampleShape',
      (s) => ({ ...s, exampleShape: [0] }),
      'bad-source',
      'exampleShape must be a non-empty list of positive integers, got [0]',
    ],
    [
      'examples of another shape',
      (s) => ({ ...s, exampleShape: [5] }),
      'bad-input-shape',
      'examples have shape [5] but the student expects [6]',
    ],
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
      'a read that returns too few examples',
      (s) => ({ ...s, read: (p) => s.read(p.subarray(0, Math.max(1, p.length - 1))) }),
      'bad-source',
      'returned 42 x values (expected 48) and 7 labels',
    ],
    [
      'a read that returns no ids',
      (s) => ({ ...s, read: async (p) => ({ ...(await s.read(p)), ids: undefined as never }) }),
      'bad-source',
      'returned no ids',
    ],
    [
      'a read that returns repeated ids',
      (s) => ({ ...s, read: async (p) => ({ ...(await s.read(p)), ids: Array.from(p, () => 'same') }) }),
      'bad-source',
      'returned repeated ids',
    ],
    [
      'a read that returns tensors',
      (s) => {
        const x = tf.zeros([8, 6]);
        outsiders.push(x);
        return { ...s, read: (p) => ({ x, y: new Int32Array(p.length), ids: Array.from(p) }) as never };
      },
      'bad-source',
      'got x a tensor (return plain arrays)',
    ],
    [
      'a read that returns number arrays',
      (s) => ({ ...s, read: () => ({ x: [[1]], y: [0], ids: [0] }) as never }),
      'bad-source',
      'must return { x: Float32Array, y: Int32Array, ids }, got x object',
    ],
    [
      'a label read out of range',
      (s) => ({ ...s, read: (p) => ({ x: new Float32Array(p.length * 6), y: new Int32Array(p.length).fill(4), ids: Array.from(p) }) }),
      'label-out-of-range',
      'has label 4',
    ],
    [
      'teacherX without a declared teacherExampleShape',
      (s) => ({ ...s, read: async (p) => ({ ...(await s.read(p)), teacherX: new Float32Array(p.length) }) }),
      'bad-source',
      'teacherX although the source declares no teacherExampleShape',
    ],
  ];
  for (const [what, edit, code, fragment] of bad) {
    it(`refuses a source with ${what} before any step (${code})`, async () => {
      const data = toyData(20, 6, 3, 9);
      const source = edit(rowSource(data));
      const r = run(source);
      const before = tf.memory().numTensors;
      await expectRefused(() => r.distiller.fit(source, { epochs: 1, batchSize: 8 }), code, fragment);
      expect(tf.memory().numTensors).toBe(before);
      expect(r.optimizer.iterations).toBe(0);
      r.dispose();
      tf.dispose(outsiders.splice(0));
      disposeData(data);
    });
  }

  it('gives the same bits whatever the read-ahead, and reads each batch once', async () => {
    const data = toyData(40, 6, 3, 21);
    const before = tf.memory().numTensors;
    const results = [];
    for (const prefetch of [0, 1, 2, 5]) {
      const source = rowSource(data);
      const r = run(source);
      results.push(await r.fit({ epochs: 2, batchSize: 6, prefetch }));
      expect(source.reads).toBe(2 * 7);
      r.dispose();
    }
    for (const result of results.slice(1)) expect(result.weights).toEqual(results[0]!.weights);
    expect(tf.memory().numTensors).toBe(before);
    disposeData(data);
  });

  it('reads ahead while a step trains (a slow read overlaps the previous step)', async () => {
    const data = toyData(24, 6, 3, 22);
    const source = rowSource(data);
    const log: string[] = [];
    const read = source.read.bind(source);
    const slow: RandomAccessSource = {
      ...source,
      read: async (positions) => {
        log.push(`read ${positions[0]}`);
        await new Promise((resolve) => setTimeout(resolve, 1));
        return read(positions);
      },
    };
    for (const prefetch of [0, 2]) {
      log.length = 0;
      const r = run(slow);
      r.distiller.use(definePlugin<void>({ name: 'mark', afterStep: (_, { step }) => void log.push(`step ${step}`) }));
      await r.fit({ epochs: 1, batchSize: 8, shuffle: false, prefetch });
      // With read-ahead, batch 1 is asked for before step 0 ends; without, only after.
      if (prefetch) expect(log.indexOf('read 8')).toBeLessThan(log.indexOf('step 0'));
      else expect(log).toEqual(['read 0', 'step 0', 'read 8', 'step 1', 'read 16', 'step 2']);
      r.dispose();
    }
    disposeData(data);
  });

  it('trains from a front-to-back source through a seeded shuffle buffer, reading it once per epoch', async () => {
    const data = toyData(30, 6, 3, 23);
    const before = tf.memory().numTensors;
    const seen: (string | number)[][] = [];
    const spy = definePlugin<void>({ name: 'spy', afterStep: ({ batch }) => void seen.push([...(batch.ids ?? [])]) });
    const source = streamSource(data, 4);
    const r = run(source);
    r.distiller.use(spy);
    await r.fit({ epochs: 2, batchSize: 7, shuffleBuffer: 8 });
    expect(source.streams).toBe(2);
    // The order is the shuffle buffer's, from the keyed generator of each epoch.
    const expected = [0, 1].flatMap((epoch) => {
      const order = shuffleBufferOrder(30, 8, SeededRandom.keyed(3, 'order', epoch));
      return Array.from({ length: 5 }, (_, k) => Array.from(order.subarray(k * 7, (k + 1) * 7), (p) => `row-${p}`));
    });
    expect(seen).toEqual(expected);
    r.dispose();
    expect(tf.memory().numTensors).toBe(before);
    disposeData(data);
  });

  it('refuses a stream that yields more or fewer examples than its size, at the batch that finds it', async () => {
    const data = toyData(20, 6, 3, 24);
    for (const [size, chunk, fragment, trained] of [
      // Chunk 4 (examples 15-19) overflows 18 when batch 3 (12-15) needs it: 3 steps trained.
      [18, 5, 'stream() yields at least 20 examples, but the source declares size 18', 3],
      // 20 examples, 24 declared: batch 5 (20-23) finds the end.
      [24, 5, 'stream() ended after 20 examples, but the source declares size 24', 5],
      // Exactly 16 read for 4 batches; the last batch's read checks the stream has ended.
      [16, 4, 'stream() yields at least 20 examples, but the source declares size 16', 3],
    ] as const) {
      const before = tf.memory().numTensors;
      const source = { ...streamSource(data, chunk), size, labels: undefined };
      const r = run(source);
      const error = await r.distiller.fit(source, { epochs: 1, batchSize: 4, shuffle: false, prefetch: 0 }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'bad-source', message: expect.stringContaining(fragment) });
      expect(r.optimizer.iterations).toBe(trained);
      r.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
    disposeData(data);
  });

  it('resumes a front-to-back source inside an epoch with the same bits, at every step and buffer size', async () => {
    const data = toyData(30, 6, 3, 25);
    // A buffer >= N (a uniform order) leaves whole chunks at the end of the stream already
    // trained on before the checkpoint: the resumed epoch must still drain and count them.
    for (const shuffleBuffer of [10, 10_000]) {
      const straight = run(streamSource(data, 4));
      const expected = await straight.fit({ epochs: 2, batchSize: 7, shuffleBuffer });
      straight.dispose();
      for (const maxSteps of [1, 4, 7, 9]) {
        const first = run(streamSource(data, 4));
        await first.fit({ epochs: 2, batchSize: 7, shuffleBuffer, maxSteps });
        const saved = await first.distiller.checkpoint();
        first.dispose();
        const second = run(streamSource(data, 4));
        // Prepare, then restore the mid-epoch checkpoint and continue.
        await second.fit({ epochs: 0, batchSize: 7 });
        await second.distiller.restore(saved);
        const resumed = await second.fit({ epochs: 2, batchSize: 7, shuffleBuffer });
        expect(resumed.weights, `shuffleBuffer ${shuffleBuffer}, resumed after step ${maxSteps}`).toEqual(expected.weights);
        second.dispose();
      }
    }
    disposeData(data);
  });

  it('accepts empty chunks but refuses ids repeated across chunks, a missing teacherX and labels that contradict the declared ones', async () => {
    const data = toyData(12, 6, 3, 27);
    const rows = rowSource(data);
    const chunks = (edit: (chunk: SourceBatch, k: number) => SourceBatch, extra: SourceBatch[] = []): SequentialSource => ({
      kind: 'kd-source',
      size: 12,
      exampleShape: [6],
      *stream() {
        for (let k = 0; k < 3; k++) yield edit(rows.read(Int32Array.from({ length: 4 }, (_, i) => 4 * k + i)) as SourceBatch, k);
        yield* extra;
      },
    });
    const empty: SourceBatch = { x: new Float32Array(0), y: new Int32Array(0), ids: [] };
    const ok = run(chunks((c) => c, [empty, empty]));
    await ok.fit({ epochs: 1, batchSize: 5, shuffle: false });
    expect(ok.optimizer.iterations).toBe(3);
    ok.dispose();
    for (const [what, source, fragment] of [
      ['repeated ids', chunks((c) => ({ ...c, ids: c.ids.map((_, i) => `id-${i}`) })), 'stream() yielded repeated ids'],
      [
        'a missing teacherX',
        { ...chunks((c, k) => (k === 0 ? { ...c, teacherX: new Float32Array(4 * 6) } : c)), teacherExampleShape: [6] },
        'no teacherX although the source declares teacherExampleShape [6]',
      ],
      [
        'labels that contradict the declared ones',
        { ...rows, labels: Int32Array.from(rows.labels!, (l, i) => (i === 5 ? (l + 1) % 3 : l)) },
        'example row-5 (position 5) was read with label',
      ],
    ] as const) {
      const r = run(source as DataSource);
      const before = tf.memory().numTensors;
      const error = await r.distiller.fit(source as DataSource, { epochs: 1, batchSize: 12, shuffle: false }).catch((e: unknown) => e);
      expect(error, what).toMatchObject({ code: 'bad-source', message: expect.stringContaining(fragment) });
      expect(r.optimizer.iterations, what).toBe(0);
      expect(tf.memory().numTensors).toBe(before);
      r.dispose();
    }
    disposeData(data);
  });

  it('evaluates a front-to-back source like the same tensors', async () => {
    const data = toyData(30, 6, 3, 26);
    const model = mlp(6, 10, 3, 100);
    const a = await evaluateModel(model, data, { batchSize: 7 });
    const b = await evaluateModel(model, streamSource(data, 4), { batchSize: 7 });
    expect(b.accuracy).toBe(a.accuracy);
    expect(b.loss).toBeCloseTo(a.loss, 6);
    model.dispose();
    disposeData(data);
  });
});

describe('tensorSource', () => {
  it('declares the labels of y and refuses labels that are not integers (nothing coerced)', () => {
    const x = tf.zeros([3, 2]);
    const y = tf.tensor1d([2, 0, 1], 'int32');
    const source = tensorSource({ x, y });
    expect(source.labels).toEqual(Int32Array.of(2, 0, 1));
    expect(source.exampleShape).toEqual([2]);
    const fractional = tf.tensor1d([0, 1.5, 1]);
    expect(() => tensorSource({ x, y: fractional })).toThrow(
      expect.objectContaining({ code: 'bad-data', message: expect.stringContaining('y[1] = 1.5') }),
    );
    const short = tf.tensor1d([0, 1], 'int32');
    expect(() => tensorSource({ x, y: short })).toThrow(
      expect.objectContaining({ code: 'bad-data', message: expect.stringContaining('got y [2]') }),
    );
    tf.dispose([x, y, fractional, short]);
  });
});

describe('shuffleBufferOrder', () => {
  it('is a permutation, moves no example more than the buffer earlier, and is uniform with a buffer >= N', () => {
    const order = shuffleBufferOrder(1000, 50, new SeededRandom(1));
    expect(Array.from(order).sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    // Position p cannot be emitted before the stream has reached it: index >= p - bufferSize + 1.
    order.forEach((p, i) => expect(i).toBeGreaterThanOrEqual(p - 49));
    // Buffer >= N: first-position frequencies of 3 elements over many seeds are near 1/3 each.
    const counts = [0, 0, 0];
    for (let seed = 0; seed < 3000; seed++) counts[shuffleBufferOrder(3, 3, new SeededRandom(seed))[0]!]!++;
    for (const c of counts) expect(Math.abs(c / 3000 - 1 / 3)).toBeLessThan(0.03);
  });
});
