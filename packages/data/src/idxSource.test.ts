import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Distiller, hardLabel, sgd } from '@kd/core';
import { mlp } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import { expectRefused } from '../test/helpers';
import { type IdxArray, writeIdx } from './idx';
import { idxSource } from './idxSource';
import { idxToLabeledData } from './labeled';
import { loadFashionMnist, loadFashionMnistSources } from './node';

const images = (n: number, h = 4, w = 3): IdxArray => ({
  dtype: 'uint8',
  shape: [n, h, w],
  data: Uint8Array.from({ length: n * h * w }, (_, i) => (i * 37) % 256),
});
const labels = (values: number[]): IdxArray => ({ dtype: 'uint8', shape: [values.length], data: Uint8Array.from(values) });

describe('idxSource', () => {
  it('reads the values idxToLabeledData gives, bit for bit, at any positions', async () => {
    const [im, lb] = [images(6), labels([0, 3, 1, 2, 3, 0])];
    const source = idxSource(im, lb, { name: 'toy' });
    expect(source).toMatchObject({ kind: 'kd-source', size: 6, exampleShape: [4, 3, 1], numClasses: 4, description: 'IDX toy' });
    const data = idxToLabeledData(im, lb);
    const positions = Int32Array.of(5, 0, 3, 3);
    const read = await source.read(positions);
    const expected = tf.tidy(() => tf.gather(data.x, tf.tensor1d(positions, 'int32')).dataSync());
    expect(read.x).toEqual(expected);
    expect(read.y).toEqual(Int32Array.of(0, 0, 2, 2));
    expect(read.ids).toEqual(['toy:5', 'toy:0', 'toy:3', 'toy:3']);
    tf.dispose([data.x, data.y]);
  });

  it('trains bit-identically to the same data as tensors', async () => {
    const [im, lb] = [images(20, 2, 2), labels(Array.from({ length: 20 }, (_, i) => i % 3))];
    const weights = [];
    for (const data of [idxToLabeledData(im, lb), idxSource(im, lb)]) {
      const student = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [2, 2, 1] }), mlp(4, 8, 3, 5)] });
      const optimizer = sgd({ learningRate: 0.2, momentum: 0.9 });
      const distiller = new Distiller({ student, optimizer, seed: 4 }).use(hardLabel());
      await distiller.fit(data, { epochs: 2, batchSize: 6 });
      weights.push(student.getWeights().map((w) => Array.from(w.dataSync())));
      distiller.dispose();
      optimizer.dispose();
      student.dispose();
      if ('x' in data) tf.dispose([data.x, data.y]);
    }
    expect(weights[1]).toEqual(weights[0]);
  });

  it('refuses mismatched files, labels beyond classes and bad options', async () => {
    await expectRefused(() => idxSource(images(3), labels([0, 1])), 'idx-count-mismatch', 'has 2 labels but images has 3 images');
    await expectRefused(() => idxSource(labels([1]), labels([1])), 'idx-not-images', 'expected uint8 images [N, H, W]');
    await expectRefused(() => idxSource(images(2), labels([0, 7]), { classes: 5 }), 'idx-bad-label', 'label 1 is 7, not a class in [0, 5)');
    await expectRefused(() => idxSource(images(2), labels([0, 1]), { clases: 5 } as never), 'unknown-option', 'did you mean "classes"');
    await expectRefused(() => idxSource(images(2), labels([0, 1])).read(Int32Array.of(2)), 'bad-indices', 'position 0 is 2');
  });
});

describe('loadFashionMnistSources', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kd-idx-source-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a Fashion-MNIST directory as sources with the values of loadFashionMnist', async () => {
    const d = join(dir, 'fm');
    mkdirSync(d);
    for (const [split, n] of [
      ['train', 5],
      ['t10k', 3],
    ] as const) {
      const pixels = Uint8Array.from({ length: n * 28 * 28 }, (_, i) => (i * 11) % 256);
      writeFileSync(join(d, `${split}-images-idx3-ubyte.gz`), gzipSync(writeIdx({ dtype: 'uint8', shape: [n, 28, 28], data: pixels })));
      writeFileSync(
        join(d, `${split}-labels-idx1-ubyte`),
        writeIdx({ dtype: 'uint8', shape: [n], data: Array.from({ length: n }, (_, i) => (i * 3) % 10) }),
      );
    }
    const sources = await loadFashionMnistSources({ directory: d });
    const tensors = await loadFashionMnist({ directory: d });
    expect(sources.train).toMatchObject({ size: 5, exampleShape: [28, 28, 1], numClasses: 10 });
    expect(sources.classNames).toEqual(tensors.classNames);
    const all = Int32Array.of(0, 1, 2);
    const read = await sources.test.read(all);
    expect(read.x).toEqual(tensors.test.x.dataSync());
    expect(read.y).toEqual(tensors.test.y.dataSync());
    expect(read.ids).toEqual(['test:0', 'test:1', 'test:2']);
    tf.dispose([tensors.train.x, tensors.train.y, tensors.test.x, tensors.test.y]);
    await expectRefused(() => loadFashionMnistSources({ directory: join(dir, 'absent') }), 'dataset-not-found', 'apt-get install');
  });
});
