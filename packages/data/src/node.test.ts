import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { cifarBytes } from '../test/helpers';
import { writeIdx } from './idx';
import { cifarFiles, csvFile, FASHION_MNIST_DIRECTORY, jsonlFile, loadFashionMnist, loadIdxFile } from './node';

const dir = mkdtempSync(join(tmpdir(), 'kd-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeSet(directory: string, prefix: string, n: number, gzip: boolean): void {
  const images = writeIdx({ dtype: 'uint8', shape: [n, 28, 28], data: Array.from({ length: n * 784 }, (_, i) => i % 256) });
  const labels = writeIdx({ dtype: 'uint8', shape: [n], data: Array.from({ length: n }, (_, i) => i % 10) });
  const ext = gzip ? '.gz' : '';
  writeFileSync(join(directory, `${prefix}-images-idx3-ubyte${ext}`), gzip ? gzipSync(images) : images);
  writeFileSync(join(directory, `${prefix}-labels-idx1-ubyte${ext}`), gzip ? gzipSync(labels) : labels);
}

describe('@kd/data/node', () => {
  it('cifarFiles joins several batch files into one source, ids across files', async () => {
    const a = join(dir, 'data_batch_1.bin');
    const b = join(dir, 'data_batch_2.bin');
    writeFileSync(a, cifarBytes([[1], [2]]));
    writeFileSync(b, cifarBytes([[3], [4], [5]]));
    const source = await cifarFiles([a, b], { variant: 'cifar10' });
    expect(source.size).toBe(5);
    expect(Array.from(source.labels)).toEqual([1, 2, 3, 4, 5]);
    expect(source.description).toBe(`cifar10 ${a}, ${b}`);
    const { x, y, ids } = await source.read(Int32Array.of(4, 2));
    expect(ids).toEqual([4, 2]);
    const first = (await cifarFiles(b, { variant: 'cifar10', name: 'b' })).read(Int32Array.of(2, 0));
    expect((await first).ids).toEqual(['b:2', 'b:0']);
    expect(x).toEqual((await first).x);
    expect(y).toEqual(Int32Array.of(5, 3));
  });

  it('csvFile and jsonlFile read a file; messages name the path', async () => {
    const csv = join(dir, 'rows.csv');
    writeFileSync(csv, 'f,label\n1.5,1\n2,0\n');
    const source = await csvFile(csv, { label: 'label' });
    expect(source).toMatchObject({ size: 2, numClasses: 2, description: `CSV ${csv}` });
    const { x, y, ids } = await source.read(Int32Array.of(0));
    expect(x).toEqual(Float32Array.of(1.5));
    expect(y).toEqual(Int32Array.of(1));
    expect(ids).toEqual([0]);
    const jsonl = join(dir, 'rows.jsonl');
    writeFileSync(jsonl, '{"f":1,"label":0}\n{"f":2,"label":"1"}\n');
    await expect(jsonlFile(jsonl, { label: 'label' })).rejects.toThrow(`jsonlFile: ${jsonl}: line 2, key "label": label "1" is not`);
    writeFileSync(jsonl, '{"f":1,"label":0}\n{"f":2,"label":1}\n');
    expect((await jsonlFile(jsonl, { label: 'label' })).size).toBe(2);
  });

  it('loadIdxFile names the path in errors', async () => {
    const path = join(dir, 'broken-idx1-ubyte');
    writeFileSync(path, new Uint8Array([0, 0, 8, 1, 0, 0, 0, 9, 1, 2]));
    await expect(loadIdxFile(path)).rejects.toThrow(`${path}: is truncated: shape [9] of uint8 needs 9 data bytes, found 2`);
    await expect(loadIdxFile(join(dir, 'nope'))).rejects.toThrow(/Cannot read IDX file ".*nope": ENOENT/);
  });

  it('loadFashionMnist reads a directory of (gzipped or plain) IDX files', async () => {
    const d = join(dir, 'fm');
    (await import('node:fs')).mkdirSync(d);
    writeSet(d, 'train', 6, true);
    writeSet(d, 't10k', 3, false);
    const { train, test, classNames } = await loadFashionMnist({ directory: d });
    expect(train.x.shape).toEqual([6, 28, 28, 1]);
    expect(train.x.dtype).toBe('float32');
    expect(train.y.dtype).toBe('int32');
    expect(test.y.shape).toEqual([3]);
    expect(Array.from(test.y.dataSync())).toEqual([0, 1, 2]);
    expect(train.x.dataSync()[255]).toBeCloseTo(1, 6);
    expect(train.x.dataSync()[1]).toBeCloseTo(1 / 255, 6);
    expect(classNames).toHaveLength(10);
    tf.dispose([train.x, train.y, test.x, test.y]);
  });

  it('a missing directory says how to install the data set', async () => {
    await expect(loadFashionMnist({ directory: join(dir, 'absent') })).rejects.toThrow('apt-get install -y dataset-fashion-mnist');
  });

  it.skipIf(!existsSync(FASHION_MNIST_DIRECTORY))('loads the real Fashion-MNIST files', async () => {
    const { train, test, classNames } = await loadFashionMnist();
    expect(train.x.shape).toEqual([60000, 28, 28, 1]);
    expect(test.x.shape).toEqual([10000, 28, 28, 1]);
    expect(train.y.shape).toEqual([60000]);
    const [lo, hi] = tf.tidy(() => [tf.min(train.x).dataSync()[0]!, tf.max(train.x).dataSync()[0]!]);
    expect(lo).toBe(0);
    expect(hi).toBe(1);
    const counts = new Array(10).fill(0);
    for (const label of test.y.dataSync()) counts[label]++;
    expect(counts).toEqual(new Array(10).fill(1000));
    expect(classNames[9]).toBe('Ankle boot');
    tf.dispose([train.x, train.y, test.x, test.y]);
  });
});
