import { expectRefused } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { disposeData, mlp, toyData } from '../test/helpers';
import { Distiller } from './distiller';
import { sgd } from './optimizers/sgd';
import { hardLabel } from './plugins/hardLabel';
import { type DataSource, type RandomAccessSource, type SequentialSource, type SourceBatch, tensorSource } from './source';
import { subsetSource } from './subsetSource';

/** A source over plain JS rows (ids `row-<p>`), optionally with teacher inputs `-x`. */
function rowSource(data: { x: tf.Tensor; y: tf.Tensor1D }, options: { labels?: boolean; teacher?: boolean } = {}): RandomAccessSource {
  const xs = data.x.arraySync() as number[][];
  const ys = Array.from(data.y.dataSync());
  return {
    kind: 'kd-source',
    size: xs.length,
    exampleShape: [xs[0]!.length],
    ...(options.teacher ? { teacherExampleShape: [xs[0]!.length] } : {}),
    ...(options.labels === false ? {} : { labels: Int32Array.from(ys) }),
    description: 'rows',
    read: (positions: Int32Array): SourceBatch => ({
      x: Float32Array.from(Array.from(positions, (p) => xs[p]!).flat()),
      y: Int32Array.from(positions, (p) => ys[p]!),
      ids: Array.from(positions, (p) => `row-${p}`),
      ...(options.teacher ? { teacherX: Float32Array.from(Array.from(positions, (p) => xs[p]!.map((v) => -v)).flat()) } : {}),
    }),
  };
}

/** The same rows front to back in chunks of `chunk`, counting how many chunks were pulled. */
function streamSource(rows: RandomAccessSource, chunk = 4): SequentialSource & { pulled: number } {
  const source = {
    kind: 'kd-source' as const,
    size: rows.size,
    exampleShape: rows.exampleShape,
    ...(rows.teacherExampleShape ? { teacherExampleShape: rows.teacherExampleShape } : {}),
    ...(rows.labels ? { labels: rows.labels } : {}),
    description: 'stream',
    pulled: 0,
    async *stream() {
      for (let start = 0; start < rows.size; start += chunk) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        source.pulled++;
        yield (await rows.read(Int32Array.from({ length: Math.min(chunk, rows.size - start) }, (_, i) => start + i))) as SourceBatch;
      }
    },
  };
  return source;
}

/** Every example of a source, in order (read or streamed). */
async function readAll(source: DataSource): Promise<SourceBatch> {
  if ('read' in source) return source.read(Int32Array.from({ length: source.size }, (_, i) => i));
  const parts: SourceBatch[] = [];
  for await (const chunk of source.stream()) parts.push(chunk);
  const concat = (arrays: Float32Array[]) => Float32Array.from(arrays.flatMap((a) => Array.from(a)));
  return {
    x: concat(parts.map((p) => p.x)),
    y: Int32Array.from(parts.flatMap((p) => Array.from(p.y))),
    ids: parts.flatMap((p) => [...p.ids]),
    ...(parts[0]?.teacherX ? { teacherX: concat(parts.map((p) => p.teacherX!)) } : {}),
  };
}

async function train(data: Parameters<Distiller['fit']>[0]): Promise<number[][]> {
  const student = mlp(6, 8, 3, 40);
  const optimizer = sgd({ learningRate: 0.1, momentum: 0.9 });
  const distiller = new Distiller({ student, optimizer, seed: 5 }).use(hardLabel());
  await distiller.fit(data, { epochs: 2, batchSize: 4 });
  const weights = student.getWeights().map((w) => Array.from(w.dataSync()));
  distiller.dispose();
  optimizer.dispose();
  student.dispose();
  return weights;
}

describe('subsetSource', () => {
  it('is the listed examples of a random-access source: ids kept (repeats numbered), labels and teacher inputs subset', async () => {
    const data = toyData(10, 6, 3, 1);
    const rows = rowSource(data, { teacher: true });
    const positions = [7, 2, 7, 0, 2, 7];
    const subset = subsetSource(rows, positions, 'picked');
    expect(subset.size).toBe(6);
    expect(subset.exampleShape).toEqual([6]);
    expect(subset.teacherExampleShape).toEqual([6]);
    expect(subset.description).toBe('picked');
    expect(Array.from(subset.labels!)).toEqual(positions.map((p) => rows.labels![p]!));
    const all = await readAll(subset);
    expect(all.ids).toEqual(['row-7', 'row-2', 'row-7#1', 'row-0', 'row-2#1', 'row-7#2']);
    const direct = await rows.read(Int32Array.from(positions));
    expect(all.x).toEqual(direct.x);
    expect(all.y).toEqual(direct.y);
    expect(all.teacherX).toEqual(direct.teacherX);
    // reads at any subset positions, in that order (repeats allowed)
    const some = await subset.read(Int32Array.from([5, 1, 1]));
    expect(some.ids).toEqual(['row-7#2', 'row-2', 'row-2']);
    expect(subsetSource(rows, [1]).description).toBe('1 examples of rows');
    expect(subsetSource(rowSource(data, { labels: false }), [1, 2]).labels).toBeUndefined();
    disposeData(data);
  });

  it('training on a subset gives the same bits as training on the gathered tensors', async () => {
    const data = toyData(24, 6, 3, 2);
    const positions = Int32Array.from([3, 9, 9, 1, 20, 14, 7, 7, 7, 0, 23, 11, 5]);
    const before = tf.memory().numTensors;
    const gathered = tf.tidy(() => ({ x: tf.gather(data.x, positions), y: tf.gather(data.y, positions) as tf.Tensor1D }));
    const expected = await train(gathered);
    disposeData(gathered);
    expect(await train(subsetSource(tensorSource(data), positions))).toEqual(expected);
    expect(await train(subsetSource(rowSource(data), positions))).toEqual(expected);
    // a subset of a subset
    const outer = subsetSource(
      rowSource(data),
      Int32Array.from({ length: 24 }, (_, i) => 23 - i),
    );
    expect(
      await train(
        subsetSource(
          outer,
          Array.from(positions, (p) => 23 - p),
        ),
      ),
    ).toEqual(expected);
    expect(tf.memory().numTensors).toBe(before);
    disposeData(data);
  });

  it('over a front-to-back source streams and filters it: sorted positions, repeats, early stop', async () => {
    const data = toyData(18, 6, 3, 3);
    const rows = rowSource(data, { teacher: true });
    const stream = streamSource(rows, 4);
    const positions = [1, 1, 2, 6, 9, 9, 9, 10];
    const subset = subsetSource(stream, positions);
    expect('stream' in subset && !('read' in subset)).toBe(true);
    expect(subset.size).toBe(8);
    expect(Array.from(subset.labels!)).toEqual(positions.map((p) => rows.labels![p]!));
    const all = await readAll(subset);
    const direct = await rows.read(Int32Array.from(positions));
    expect(all.x).toEqual(direct.x);
    expect(all.y).toEqual(direct.y);
    expect(all.teacherX).toEqual(direct.teacherX);
    expect(all.ids).toEqual(['row-1', 'row-1#1', 'row-2', 'row-6', 'row-9', 'row-9#1', 'row-9#2', 'row-10']);
    expect(stream.pulled).toBe(3); // positions up to 10 are in the first 3 chunks of 4: the rest is never read
    // and trains like the same rows as a stream of their own
    const own = streamSource(subsetSource(rows, positions), 3);
    expect(await train(subset)).toEqual(await train(own));
    disposeData(data);
  });

  it('checks the source and the positions before reading anything', async () => {
    const data = toyData(6, 6, 3, 4);
    const rows = rowSource(data);
    const stream = streamSource(rows);
    await expectRefused(() => subsetSource({} as never, [0]), 'bad-source', 'subsetSource: source must be a DataSource');
    await expectRefused(() => subsetSource({ ...rows, size: 0 }, [0]), 'bad-source', 'subsetSource: source (rows): size must be');
    await expectRefused(() => subsetSource(rows, []), 'bad-option', 'positions is empty');
    await expectRefused(() => subsetSource(rows, 'abc' as never), 'bad-option', 'positions must be an Int32Array or an array');
    await expectRefused(() => subsetSource(rows, new Float32Array([0]) as never), 'bad-option', 'got a Float32Array');
    await expectRefused(
      () => subsetSource(rows, [0, 6]),
      'bad-option',
      'positions[1] = 6 is not a position of the source (rows), an integer in [0, 6)',
    );
    await expectRefused(() => subsetSource(rows, [-1]), 'bad-option', 'positions[0] = -1');
    await expectRefused(() => subsetSource(rows, [0.5]), 'bad-option', 'positions[0] = 0.5');
    await expectRefused(() => subsetSource(rows, ['1'] as never), 'bad-option', 'positions[0] = 1 is not a position');
    await expectRefused(() => subsetSource(rows, [1], 5 as never), 'bad-option', 'description must be a string');
    await expectRefused(
      () => subsetSource(stream, [0, 3, 2]),
      'bad-option',
      'positions[2] = 2 comes after 3, but the source (stream) is read front to back, so a subset of it must list positions in non-decreasing order',
    );
    const subset = subsetSource(rows, [4, 5]);
    await expectRefused(() => subset.read(Int32Array.from([2])), 'bad-option', 'read: position 2 is not in [0, 2)');
    await expectRefused(() => subset.read([0] as never), 'bad-option', 'positions must be an Int32Array');
    disposeData(data);
  });

  it("names the source's own positions and ids when a read or a stream goes wrong", async () => {
    const data = toyData(8, 6, 3, 5);
    const rows = rowSource(data);
    const broken: RandomAccessSource = {
      ...rows,
      read: async (positions) => {
        const batch = await rows.read(positions);
        const x = batch.x.slice();
        if (positions.includes(5)) x[positions.indexOf(5) * 6] = Number.NaN;
        return { ...batch, x };
      },
    };
    await expectRefused(
      () => subsetSource(broken, [1, 5]).read(Int32Array.from([0, 1])),
      'non-finite-input',
      'source read by subsetSource (rows): x of example row-5 (position 5)',
    );
    const unlabelled = rowSource(data, { labels: false });
    const short: SequentialSource = { ...streamSource(unlabelled), size: 12 };
    await expectRefused(
      () => readAll(subsetSource(short, [2, 10])),
      'bad-source',
      'stream() ended after 8 examples, but the source declares size 12',
    );
    const long: SequentialSource = { ...streamSource(unlabelled), size: 6 };
    await expectRefused(
      () => readAll(subsetSource(long, [5])),
      'bad-source',
      'stream() yields at least 8 examples, but the source declares size 6',
    );
    disposeData(data);
  });
});
