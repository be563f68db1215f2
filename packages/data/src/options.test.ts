import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { isDistillationError, SeededRandom } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { type BadInput, cifarBytes, expectRefused } from '../test/helpers';
import { augment, horizontalFlip, jitter, randomCrop } from './augment';
import { cifarBinary } from './cifar';
import { dataErrorCodes } from './errors';
import { type IdxArray, IdxFormatError, readIdx, writeIdx } from './idx';
import { idxSource } from './idxSource';
import { imageFolder } from './imageFolder';
import { idxToLabeledData } from './labeled';
import { loadMnistDigits } from './mnistDigits';
import { cifarFiles, csvFile, jsonlFile, loadFashionMnist, loadIdxFile, loadIdxFileSync, readIdx as readIdxNode } from './node';
import { subset, take, trainValidationSplit } from './split';
import { csvSource, jsonlSource, parseCsv } from './tabular';
import { augmentedViews } from './views';

const dir = mkdtempSync(join(tmpdir(), 'kd-data-bad-'));
mkdirSync(join(dir, 'empty'));
writeFileSync(join(dir, 'plain-file'), 'x');
const valid = writeIdx({ dtype: 'uint8', shape: [2, 2], data: [1, 2, 3, 4] });
const gz = new Uint8Array(gzipSync(valid));
const header = (code: number, dims: number[]) => {
  const out = [0, 0, code, dims.length];
  for (const d of dims) out.push((d >>> 24) & 255, (d >>> 16) & 255, (d >>> 8) & 255, d & 255);
  return out;
};
const images: IdxArray = { dtype: 'uint8', shape: [3, 2, 2], data: new Uint8Array(12) };
const labels: IdxArray = { dtype: 'uint8', shape: [3], data: new Uint8Array(3) };
const x = tf.zeros([2, 4, 4, 1]);
const flat = tf.zeros([2, 16]);
const scalar = tf.scalar(1);
const d = { x: tf.zeros([10, 2]), y: tf.zeros([10], 'int32') as tf.Tensor1D };
const random = new SeededRandom(1);
const cifar10 = cifarBytes([[1], [2]]);
const cifar100 = cifarBytes([
  [3, 99],
  [19, 4],
]);
writeFileSync(join(dir, 'batch.bin'), cifar10);
writeFileSync(join(dir, 'short.bin'), cifar10.subarray(0, 3074));
const badLabel = cifar10.slice();
badLabel[3073] = 10;
const csv = 'a,b,label\n1,2,0\n3,4,1\n';
afterAll(() => {
  tf.dispose([x, flat, scalar, d.x, d.y]);
  rmSync(dir, { recursive: true, force: true });
});

// Each case: [label, call, code, message fragment]; every one must also leave no tensor behind.
// imageFolder fixtures: a class folder holding one file that is no image.
const imageRoot = join(dir, 'images');
mkdirSync(join(imageRoot, 'a'), { recursive: true });
writeFileSync(join(imageRoot, 'a', '1.png'), 'not a png');
for (const c of ['caf\u00e9', 'cafe\u0301']) mkdirSync(join(dir, 'images-nfc-nfd', c), { recursive: true });
mkdirSync(join(dir, 'images-none', 'a'), { recursive: true });
writeFileSync(join(dir, 'images-none', 'a', 'x.txt'), 'x');
mkdirSync(join(dir, 'images-empty-class', 'b'), { recursive: true });
mkdirSync(join(dir, 'images-empty-class', 'a'), { recursive: true });
writeFileSync(join(dir, 'images-empty-class', 'a', '1.png'), 'x');

const cases: BadInput[] = [
  // readIdx (browser entry)
  ['readIdx: unknown key', () => readIdx(valid, { nmae: 'f' } as never), 'unknown-option', 'did you mean "name"'],
  ['readIdx: name not a string', () => readIdx(valid, { name: 3 } as never), 'bad-option', 'readIdx: option "name"'],
  ['readIdx: empty name', () => readIdx(valid, { name: '' }), 'bad-option', 'option "name"'],
  ['readIdx: gunzip not a function', () => readIdx(valid, { gunzip: 5 } as never), 'bad-option', 'option "gunzip"'],
  ['readIdx: options not an object', () => readIdx(valid, 5 as never), 'bad-option', 'readIdx: options'],
  [
    'readIdx: idx-not-bytes',
    () => readIdx([0, 0, 8, 1] as never, { name: 'a.idx' }),
    'idx-not-bytes',
    'a.idx: expected the file contents as a Uint8Array',
  ],
  ['readIdx: idx-gzipped', () => readIdx(gz, { name: 'g.gz' }), 'idx-gzipped', 'g.gz: is gzip-compressed'],
  [
    'readIdx: idx-bad-gzip (gunzip throws)',
    () =>
      readIdx(gz, {
        name: 'g.gz',
        gunzip: () => {
          throw new Error('boom');
        },
      }),
    'idx-bad-gzip',
    'g.gz: is not valid gzip data (boom)',
  ],
  [
    'readIdx: idx-bad-gzip (gunzip returns junk)',
    () => readIdx(gz, { gunzip: () => 'x' as never }),
    'idx-bad-gzip',
    'did not return a Uint8Array',
  ],
  [
    'readIdx: idx-bad-magic',
    () => readIdx(new Uint8Array([0x50, 0, 8, 1, 0, 0, 0, 1, 7]), { name: 'm' }),
    'idx-bad-magic',
    'm: is not an IDX file: magic number 50 00 08 01',
  ],
  ['readIdx: idx-unknown-type', () => readIdx(new Uint8Array([...header(0x0a, [1]), 7])), 'idx-unknown-type', 'unknown IDX type code 0x0a'],
  ['readIdx: idx-no-dimensions', () => readIdx(new Uint8Array([0, 0, 8, 0])), 'idx-no-dimensions', 'declares 0 dimensions'],
  ['readIdx: idx-truncated (magic)', () => readIdx(new Uint8Array([0, 0])), 'idx-truncated', 'is truncated: 2 bytes'],
  [
    'readIdx: idx-truncated (header)',
    () => readIdx(new Uint8Array(header(0x08, [5, 5]).slice(0, 9))),
    'idx-truncated',
    'the header declares 2 dimensions',
  ],
  [
    'readIdx: idx-truncated (data)',
    () => readIdx(new Uint8Array([...header(0x08, [2, 3]), 1, 2])),
    'idx-truncated',
    'needs 6 data bytes, found 2',
  ],
  [
    'readIdx: idx-trailing-bytes',
    () => readIdx(new Uint8Array([...header(0x08, [1]), 1, 2])),
    'idx-trailing-bytes',
    '1 unexpected trailing bytes',
  ],
  // readIdx (node entry)
  ['node readIdx: unknown key', () => readIdxNode(gz, { gunzp: () => valid } as never), 'unknown-option', 'did you mean "gunzip"'],
  ['node readIdx: name not a string', () => readIdxNode(gz, { name: null } as never), 'bad-option', 'option "name"'],
  [
    'node readIdx: idx-bad-gzip',
    () => readIdxNode(gz.subarray(0, gz.length - 6), { name: 'cut.gz' }),
    'idx-bad-gzip',
    'cut.gz: is not valid gzip data',
  ],
  // writeIdx
  [
    'writeIdx: bad-idx-array (dtype)',
    () => writeIdx({ dtype: 'uint16' as never, shape: [1], data: [1] }),
    'bad-idx-array',
    'dtype must be one of uint8',
  ],
  [
    'writeIdx: bad-idx-array (shape)',
    () => writeIdx({ dtype: 'uint8', shape: [2, -1], data: [] }),
    'bad-idx-array',
    'shape must be 1 to 255',
  ],
  [
    'writeIdx: bad-idx-array (no shape)',
    () => writeIdx({ dtype: 'uint8', shape: [], data: [] }),
    'bad-idx-array',
    'shape must be 1 to 255',
  ],
  [
    'writeIdx: bad-idx-array (length)',
    () => writeIdx({ dtype: 'uint8', shape: [2, 3], data: [1, 2] }),
    'bad-idx-array',
    'shape [2, 3] needs 6 values, got 2',
  ],
  ['writeIdx: bad-idx-array (not an object)', () => writeIdx(null as never), 'bad-idx-array', 'expected { dtype, shape, data }'],
  // idxToLabeledData
  [
    'idxToLabeledData: unknown key',
    () => idxToLabeledData(images, labels, { image: 'i' } as never),
    'unknown-option',
    'did you mean "images"',
  ],
  [
    'idxToLabeledData: name not a string',
    () => idxToLabeledData(images, labels, { labels: 5 } as never),
    'bad-option',
    'idxToLabeledData: option "labels"',
  ],
  [
    'idxToLabeledData: idx-not-images',
    () => idxToLabeledData(labels, labels, { images: 'imgs' }),
    'idx-not-images',
    'imgs: expected uint8 images [N, H, W], got uint8 [3]',
  ],
  [
    'idxToLabeledData: idx-not-images (not an array)',
    () => idxToLabeledData(null as never, labels),
    'idx-not-images',
    'images: expected uint8 images',
  ],
  [
    'idxToLabeledData: idx-not-labels',
    () => idxToLabeledData(images, images, { labels: 'lbl' }),
    'idx-not-labels',
    'lbl: expected uint8 labels [N]',
  ],
  [
    'idxToLabeledData: idx-count-mismatch',
    () => idxToLabeledData(images, { ...labels, shape: [2], data: new Uint8Array(2) }),
    'idx-count-mismatch',
    'has 2 labels but images has 3 images',
  ],
  [
    'idxSource: idx-bad-label',
    () => idxSource(images, { ...labels, data: Uint8Array.of(0, 1, 9) }, { classes: 3 }),
    'idx-bad-label',
    'label 2 is 9, not a class in [0, 3)',
  ],
  // loadMnistDigits
  ['loadMnistDigits: unknown key', () => loadMnistDigits({ testFractoin: 0.1 } as never), 'unknown-option', 'did you mean "testFraction"'],
  ['loadMnistDigits: testFraction 0', () => loadMnistDigits({ testFraction: 0 }), 'bad-option', 'loadMnistDigits: option "testFraction"'],
  [
    'loadMnistDigits: testFraction not a number',
    () => loadMnistDigits({ testFraction: '0.2' } as never),
    'bad-option',
    'option "testFraction"',
  ],
  // loadFashionMnist, loadIdxFile
  ['loadFashionMnist: unknown key', () => loadFashionMnist({ directroy: dir } as never), 'unknown-option', 'did you mean "directory"'],
  [
    'loadFashionMnist: empty directory name',
    () => loadFashionMnist({ directory: '' }),
    'bad-option',
    'loadFashionMnist: option "directory"',
  ],
  [
    'loadFashionMnist: dataset-not-found (directory)',
    () => loadFashionMnist({ directory: join(dir, 'absent') }),
    'dataset-not-found',
    'apt-get install -y dataset-fashion-mnist',
  ],
  [
    'loadFashionMnist: dataset-not-found (a file)',
    () => loadFashionMnist({ directory: join(dir, 'plain-file') }),
    'dataset-not-found',
    'is not a directory',
  ],
  [
    'loadFashionMnist: dataset-not-found (files)',
    () => loadFashionMnist({ directory: join(dir, 'empty') }),
    'dataset-not-found',
    'train-images-idx3-ubyte.gz (or train-images-idx3-ubyte) not found',
  ],
  ['loadIdxFile: io-error', () => loadIdxFile(join(dir, 'nope')), 'io-error', 'Cannot read IDX file'],
  ['loadIdxFile: path not a string', () => loadIdxFile(3 as never), 'bad-option', 'loadIdxFile: path must be a non-empty string'],
  ['loadIdxFileSync: io-error', () => loadIdxFileSync(join(dir, 'nope')), 'io-error', 'nope": ENOENT'],
  ['loadIdxFileSync: io-error (a directory)', () => loadIdxFileSync(dir), 'io-error', 'EISDIR'],
  // take, subset, trainValidationSplit
  ['take: bad-indices (out of range)', () => take(d, [0, 10]), 'bad-indices', 'index 1 is 10, not an integer example index in [0, 10)'],
  ['take: bad-indices (not an integer)', () => take(d, [0.5]), 'bad-indices', 'index 0 is 0.5'],
  ['take: bad-indices (not an array)', () => take(d, 3 as never), 'bad-indices', 'indices must be an array'],
  ['take: bad-data', () => take({ x: [1] } as never, [0]), 'bad-data', 'take: expected { x: Tensor, y: Tensor1D }'],
  ['subset: unknown key', () => subset(d, { count: 2, sed: 1 } as never), 'unknown-option', 'did you mean "seed"'],
  ['subset: count 0', () => subset(d, 0), 'bad-option', 'subset: option "count"'],
  ['subset: count not an integer', () => subset(d, 2.5), 'bad-option', 'option "count"'],
  ['subset: seed not an integer', () => subset(d, 2, 1.5), 'bad-option', 'option "seed"'],
  ['subset: count above N', () => subset(d, 11), 'bad-option', 'option "count" must be an integer in [1, 10]'],
  ['subset: seed twice', () => subset(d, { count: 2 }, 3), 'bad-option', 'pass seed inside the options'],
  ['subset: bad-data (x and y differ)', () => subset({ x: d.x, y: flat } as never, 1), 'bad-data', 'x has 10 examples but y has 2 labels'],
  [
    'trainValidationSplit: unknown key',
    () => trainValidationSplit(d, { fraction: 0.5, seeed: 1 } as never),
    'unknown-option',
    'did you mean "seed"',
  ],
  ['trainValidationSplit: fraction 1.5', () => trainValidationSplit(d, 1.5), 'bad-option', 'trainValidationSplit: option "fraction"'],
  ['trainValidationSplit: fraction NaN', () => trainValidationSplit(d, Number.NaN), 'bad-option', 'option "fraction"'],
  ['trainValidationSplit: fraction missing', () => trainValidationSplit(d, {} as never), 'bad-option', 'option "fraction"'],
  ['trainValidationSplit: empty-split', () => trainValidationSplit(d, 0.01), 'empty-split', 'leaves 0 for validation and 10 for training'],
  [
    'trainValidationSplit: bad-data',
    () => trainValidationSplit(undefined as never, 0.5),
    'bad-data',
    'trainValidationSplit: expected { x: Tensor',
  ],
  // randomCrop, horizontalFlip, jitter
  ['randomCrop: unknown key', () => randomCrop(x, { padding: 1, sise: [2, 2] } as never, random), 'unknown-option', 'did you mean "size"'],
  ['randomCrop: negative padding', () => randomCrop(x, { padding: -1 }, random), 'bad-option', 'randomCrop: option "padding"'],
  ['randomCrop: padding missing', () => randomCrop(x, {} as never, random), 'bad-option', 'option "padding"'],
  ['randomCrop: size 0', () => randomCrop(x, { padding: 1, size: [0, 2] }, random), 'bad-option', 'option "size[0]"'],
  ['randomCrop: size not a pair', () => randomCrop(x, { padding: 1, size: [2] as never }, random), 'bad-option', 'option "size"'],
  [
    'randomCrop: bad-images (rank 2)',
    () => randomCrop(flat, { padding: 1 }, random),
    'bad-images',
    'randomCrop: expected images [N, H, W, C] or [N, H, W], got shape [2,16]',
  ],
  ['randomCrop: bad-images (not a tensor)', () => randomCrop([[1]] as never, { padding: 1 }, random), 'bad-images', 'as a tf.Tensor'],
  [
    'randomCrop: crop-too-large',
    () => randomCrop(x, { padding: 0, size: [5, 4] }, random),
    'crop-too-large',
    'crop [5, 4] is larger than the padded image [4, 4]',
  ],
  ['randomCrop: random missing', () => randomCrop(x, { padding: 1 }, undefined as never), 'bad-option', 'random must be a SeededRandom'],
  [
    'horizontalFlip: unknown key',
    () => horizontalFlip(x, { probabilty: 0.5 } as never, random),
    'unknown-option',
    'did you mean "probability"',
  ],
  [
    'horizontalFlip: probability 2',
    () => horizontalFlip(x, { probability: 2 }, random),
    'bad-option',
    'horizontalFlip: option "probability"',
  ],
  ['horizontalFlip: bad-images', () => horizontalFlip(flat, {}, random), 'bad-images', 'horizontalFlip: expected images'],
  ['jitter: unknown key', () => jitter(x, { pixel: 1 } as never, random), 'unknown-option', 'did you mean "pixels"'],
  ['jitter: pixels 1.5', () => jitter(x, { pixels: 1.5 }, random), 'bad-option', 'jitter: option "pixels"'],
  ['jitter: negative pixels', () => jitter(x, { pixels: -1 }, random), 'bad-option', 'option "pixels"'],
  ['jitter: bad-images', () => jitter(scalar, {}, random), 'bad-images', 'got shape []'],
  // augment
  ['augment: unknown key', () => augment({ jiter: true } as never), 'unknown-option', 'did you mean "jitter"'],
  [
    'augment: unknown nested key',
    () => augment({ crop: { padding: 1, sizee: [2, 2] } } as never),
    'unknown-option',
    'did you mean "crop.size"',
  ],
  ['augment: unknown key in a union', () => augment({ jitter: { pixls: 1 } } as never), 'unknown-option', 'did you mean "jitter.pixels"'],
  ['augment: flip not a boolean', () => augment({ flip: 'yes' } as never), 'bad-option', 'augment: option "flip"'],
  ['augment: negative crop padding', () => augment({ crop: { padding: -2 } }), 'bad-option', 'option "crop.padding"'],
  ['augment: empty name', () => augment({ flip: true, name: '' }), 'bad-option', 'option "name"'],
  ['augment: no-augmentation', () => augment({}), 'no-augmentation', 'choose at least one of crop, flip, jitter'],
  ['augment: no-augmentation (all off)', () => augment({ flip: false, jitter: false }), 'no-augmentation', 'at least one'],
  // augmentedViews
  [
    'augmentedViews: a front-to-back source',
    () =>
      augmentedViews({ kind: 'kd-source', size: 2, exampleShape: [4, 4, 1], description: 'a stream', stream: () => [] } as never, {
        views: 2,
        flip: true,
      }),
    'views-need-random-access',
    'a stream must be a random-access DataSource',
  ],
  [
    'augmentedViews: unknown key',
    () =>
      augmentedViews(
        { kind: 'kd-source', size: 2, exampleShape: [4, 4, 1], read: () => ({}) } as never,
        { views: 2, flip: true, view: 1 } as never,
      ),
    'unknown-option',
    'augmentedViews: unknown option "view"',
  ],
  // cifarBinary / cifarFiles
  [
    'cifarBinary: unknown key',
    () => cifarBinary(cifar10, { variant: 'cifar10', lables: 'fine' } as never),
    'unknown-option',
    'did you mean "labels"',
  ],
  ['cifarBinary: no variant', () => cifarBinary(cifar10, {} as never), 'bad-option', 'cifarBinary: option "variant"'],
  [
    'cifarBinary: bad variant',
    () => cifarBinary(cifar10, { variant: 'cifar20' } as never),
    'bad-option',
    "must be 'cifar10' or 'cifar100', got 'cifar20'",
  ],
  [
    'cifarBinary: bad labels',
    () => cifarBinary(cifar100, { variant: 'cifar100', labels: 'all' } as never),
    'bad-option',
    'option "labels"',
  ],
  [
    'cifarBinary: labels on cifar10',
    () => cifarBinary(cifar10, { variant: 'cifar10', labels: 'coarse' }),
    'bad-option',
    'applies to variant "cifar100" only',
  ],
  [
    'cifarBinary: cifar-not-bytes',
    () => cifarBinary([1, 2] as never, { variant: 'cifar10' }),
    'cifar-not-bytes',
    'expected the file contents as a Uint8Array',
  ],
  [
    'cifarBinary: cifar-bad-length',
    () => cifarBinary(cifar10.subarray(0, 5000), { variant: 'cifar10', name: 'data_batch_1.bin' }),
    'cifar-bad-length',
    'data_batch_1.bin: 5000 bytes is not a whole number of cifar10 records of 3073 bytes (1 label byte + 3072 pixels): 1 records and 1927 bytes over',
  ],
  [
    'cifarBinary: cifar-bad-length (cifar10 bytes as cifar100)',
    () => cifarBinary(cifar10, { variant: 'cifar100' }),
    'cifar-bad-length',
    'bytes: 6146 bytes is not a whole number of cifar100 records of 3074 bytes',
  ],
  ['cifarBinary: cifar-bad-length (empty)', () => cifarBinary(new Uint8Array(0), { variant: 'cifar10' }), 'cifar-bad-length', '0 bytes'],
  [
    'cifarBinary: cifar-bad-label',
    () => cifarBinary(badLabel, { variant: 'cifar10', name: 'b.bin' }),
    'cifar-bad-label',
    'b.bin: record 1 (byte 3073) has label 10, not a class in [0, 10)',
  ],
  [
    'cifarBinary: cifar-bad-label (fine)',
    () => cifarBinary(cifarBytes([[0, 100]]), { variant: 'cifar100' }),
    'cifar-bad-label',
    'record 0 (byte 1) has fine label 100, not a class in [0, 100)',
  ],
  [
    'cifarBinary: cifar-bad-label (coarse)',
    () => cifarBinary(cifarBytes([[20, 1]]), { variant: 'cifar100', labels: 'coarse' }),
    'cifar-bad-label',
    'record 0 (byte 0) has coarse label 20, not a class in [0, 20)',
  ],
  [
    'cifar read: bad-indices',
    () => cifarBinary(cifar10, { variant: 'cifar10' }).read(Int32Array.of(0, 2)),
    'bad-indices',
    'position 1 is 2, not an example position in [0, 2)',
  ],
  [
    'cifarFiles: io-error',
    () => cifarFiles([join(dir, 'batch.bin'), join(dir, 'nope.bin')], { variant: 'cifar10' }),
    'io-error',
    `Cannot read CIFAR file "${join(dir, 'nope.bin')}": ENOENT`,
  ],
  ['cifarFiles: no paths', () => cifarFiles([], { variant: 'cifar10' }), 'bad-option', 'cifarFiles: paths'],
  [
    'cifarFiles: unknown key',
    () => cifarFiles(join(dir, 'batch.bin'), { variant: 'cifar10', nmae: 'x' } as never),
    'unknown-option',
    'cifarFiles: unknown option "nmae"',
  ],
  [
    'cifarFiles: cifar-bad-length names the file',
    () => cifarFiles([join(dir, 'batch.bin'), join(dir, 'short.bin')], { variant: 'cifar10' }),
    'cifar-bad-length',
    `${join(dir, 'short.bin')}: 3074 bytes`,
  ],
  // csvSource / jsonlSource / csvFile / jsonlFile
  [
    'csvSource: unknown key',
    () => csvSource(csv, { label: 'label', delimeter: ';' } as never),
    'unknown-option',
    'did you mean "delimiter"',
  ],
  ['csvSource: no label', () => csvSource(csv, {} as never), 'bad-option', 'csvSource: option "label"'],
  ['csvSource: bad delimiter', () => csvSource(csv, { label: 'label', delimiter: ';;' }), 'bad-option', 'option "delimiter"'],
  ['csvSource: classes 0', () => csvSource(csv, { label: 'label', classes: 0 }), 'bad-option', 'option "classes"'],
  [
    'csvSource: label among features',
    () => csvSource(csv, { label: 'label', features: ['a', 'label'] }),
    'bad-option',
    'includes the label column "label"',
  ],
  ['csvSource: only a label', () => csvSource('y\n1\n', { label: 'y' }), 'bad-option', 'no feature'],
  [
    'csvSource: table-not-text',
    () => csvSource(new Uint8Array(2) as never, { label: 'label' }),
    'table-not-text',
    'expected the file contents as a string',
  ],
  ['csvSource: table-empty', () => csvSource('a,label\n', { label: 'label' }), 'table-empty', 'no data rows after the header'],
  ['csvSource: table-empty (no text)', () => csvSource('', { label: 0, header: false }), 'table-empty', 'no data rows'],
  [
    'csvSource: table-unknown-column (label)',
    () => csvSource(csv, { label: 'lable' }),
    'table-unknown-column',
    'label column "lable" is not one of the 3 columns (a, b, label)',
  ],
  [
    'csvSource: table-unknown-column (feature index)',
    () => csvSource(csv, { label: 'label', features: [5] }),
    'table-unknown-column',
    'feature column 5',
  ],
  [
    'csvSource: table-ragged-row',
    () => csvSource('a,b,label\n1,2,0\n3,1\n', { label: 'label', name: 'r.csv' }),
    'table-ragged-row',
    'csvSource: r.csv: line 3 has 2 fields, the header has 3',
  ],
  [
    'csvSource: table-bad-feature',
    () => csvSource('a,b,label\n1,2,0\n3,x4,1\n', { label: 'label' }),
    'table-bad-feature',
    'line 3, column "b": "x4" is not a finite number',
  ],
  [
    'csvSource: table-bad-feature (empty)',
    () => csvSource('a,b,label\n1,,0\n', { label: 'label' }),
    'table-bad-feature',
    'line 2, column "b": "" is not',
  ],
  [
    'csvSource: table-missing-label',
    () => csvSource('a,b,label\n1,2,0\n3,4, \n', { label: 'label' }),
    'table-missing-label',
    'line 3, column "label": the label is missing',
  ],
  [
    'csvSource: table-bad-label (fraction)',
    () => csvSource('a,b,label\n1,2,1.5\n', { label: 'label' }),
    'table-bad-label',
    'line 2, column "label": label "1.5" is not a non-negative integer class',
  ],
  ['csvSource: table-bad-label (text)', () => csvSource('a,b,label\n1,2,cat\n', { label: 'label' }), 'table-bad-label', 'label "cat"'],
  ['csvSource: table-bad-label (negative)', () => csvSource('a,b,label\n1,2,-1\n', { label: 'label' }), 'table-bad-label', 'label "-1"'],
  [
    'csvSource: table-bad-label (classes)',
    () => csvSource(csv, { label: 'label', classes: 1 }),
    'table-bad-label',
    'line 3, column "label": label 1 is not a class in [0, 1) (option "classes")',
  ],
  [
    'csvSource: csv-bad-quote (unterminated)',
    () => csvSource('a,label\n"1,0\n', { label: 'label' }),
    'csv-bad-quote',
    'line 2, character 1: the quote is never closed',
  ],
  ['csvSource: csv-bad-quote (after)', () => parseCsv('a,"b"c\n'), 'csv-bad-quote', 'line 1, character 6: "c" after a closing quote'],
  ['csv read: bad-indices', () => csvSource(csv, { label: 'label' }).read(Int32Array.of(-1)), 'bad-indices', 'position 0 is -1'],
  [
    'csvFile: io-error',
    () => csvFile(join(dir, 'nope.csv'), { label: 'y' }),
    'io-error',
    `Cannot read CSV file "${join(dir, 'nope.csv')}": ENOENT`,
  ],
  ['csvFile: empty path', () => csvFile('', { label: 'y' }), 'bad-option', 'csvFile: path'],
  [
    'csvFile: unknown key',
    () => csvFile(join(dir, 'plain-file'), { label: 'y', header: true, x: 1 } as never),
    'unknown-option',
    'csvFile: unknown option "x"',
  ],
  [
    'jsonlSource: unknown key',
    () => jsonlSource('{"a":1,"y":0}', { label: 'y', feature: ['a'] } as never),
    'unknown-option',
    'did you mean "features"',
  ],
  [
    'jsonlSource: label among features',
    () => jsonlSource('{"a":1,"y":0}', { label: 'y', features: ['y'] }),
    'bad-option',
    'includes the label key "y"',
  ],
  [
    'jsonlSource: jsonl-bad-line',
    () => jsonlSource('{"a":1,"y":0}\n{"a":2,', { label: 'y' }),
    'jsonl-bad-line',
    'line 2 is not valid JSON',
  ],
  [
    'jsonlSource: jsonl-bad-line (array)',
    () => jsonlSource('[1,0]', { label: 'y' }),
    'jsonl-bad-line',
    'line 1 is not a JSON object, got an array',
  ],
  ['jsonlSource: table-empty', () => jsonlSource('\n\n', { label: 'y' }), 'table-empty', 'jsonlSource: no data rows'],
  ['jsonlSource: table-not-text', () => jsonlSource(null as never, { label: 'y' }), 'table-not-text', 'got object'],
  [
    'jsonlSource: table-ragged-row',
    () => jsonlSource('{"a":1,"b":1,"y":0}\n{"a":2,"y":0}', { label: 'y' }),
    'table-ragged-row',
    'line 2 has no feature "b" (features: a, b)',
  ],
  [
    'jsonlSource: table-bad-feature',
    () => jsonlSource('{"a":1,"y":0}\n{"a":"2","y":0}', { label: 'y' }),
    'table-bad-feature',
    'line 2, key "a": "2" is not a finite number',
  ],
  [
    'jsonlSource: table-missing-label',
    () => jsonlSource('{"a":1,"y":0}\n{"a":2}', { label: 'y' }),
    'table-missing-label',
    'line 2, key "y": the label is missing',
  ],
  [
    'jsonlSource: table-bad-label',
    () => jsonlSource('{"a":1,"y":0.5}', { label: 'y' }),
    'table-bad-label',
    'line 1, key "y": label 0.5 is not a non-negative integer class',
  ],
  [
    'jsonlSource: table-bad-label (classes)',
    () => jsonlSource('{"a":1,"y":3}', { label: 'y', classes: 3 }),
    'table-bad-label',
    'label 3 is not a class in [0, 3)',
  ],
  ['jsonlFile: io-error', () => jsonlFile(join(dir, 'nope.jsonl'), { label: 'y' }), 'io-error', 'Cannot read JSONL file'],
  // imageFolder (folders under `dir`; nothing here decodes but the two read cases)
  [
    'imageFolder: unknown-option',
    () => imageFolder(imageRoot, { size: 2, chanels: 3 } as never),
    'unknown-option',
    'did you mean "channels"',
  ],
  [
    'imageFolder: bad-option (size)',
    () => imageFolder(imageRoot, { size: [2], channels: 3 } as never),
    'bad-option',
    'option "size" must be',
  ],
  ['imageFolder: bad-option (channels)', () => imageFolder(imageRoot, { size: 2, channels: 2 as 3 }), 'bad-option', 'must be 1 or 3'],
  [
    'imageFolder: bad-option (workers)',
    () => imageFolder(imageRoot, { size: 2, channels: 3, workers: 1.5 }),
    'bad-option',
    'option "workers"',
  ],
  [
    'imageFolder: bad-option (extensions)',
    () => imageFolder(imageRoot, { size: 2, channels: 3, extensions: ['png'] }),
    'bad-option',
    'like ".png"',
  ],
  ['imageFolder: io-error', () => imageFolder(join(dir, 'no-such-folder'), { size: 2, channels: 3 }), 'io-error', 'ENOENT'],
  [
    'imageFolder: image-root-not-directory',
    () => imageFolder(join(dir, 'plain-file'), { size: 2, channels: 3 }),
    'image-root-not-directory',
    'is not a directory',
  ],
  [
    'imageFolder: image-no-classes',
    () => imageFolder(join(dir, 'empty'), { size: 2, channels: 3 }),
    'image-no-classes',
    'one folder per class',
  ],
  [
    'imageFolder: image-duplicate-class',
    () => imageFolder(join(dir, 'images-nfc-nfd'), { size: 2, channels: 3 }),
    'image-duplicate-class',
    'normalisation',
  ],
  ['imageFolder: image-no-images', () => imageFolder(join(dir, 'images-none'), { size: 2, channels: 3 }), 'image-no-images', '1 .txt'],
  [
    'imageFolder: image-empty-class',
    () => imageFolder(join(dir, 'images-empty-class'), { size: 2, channels: 3 }),
    'image-empty-class',
    '"b"',
  ],
  [
    'imageFolder: image-all-skipped',
    () => imageFolder(imageRoot, { size: 2, channels: 3, onBadFile: 'skip' }),
    'image-all-skipped',
    'every one of the 1',
  ],
  [
    'imageFolder: image-decode-failed',
    async () => {
      const source = await imageFolder(imageRoot, { size: 2, channels: 3, workers: 0 });
      return source.read(Int32Array.of(0));
    },
    'image-decode-failed',
    'a/1.png',
  ],
  [
    'imageFolder read: bad-indices',
    async () => (await imageFolder(imageRoot, { size: 2, channels: 3, workers: 0 })).read(Int32Array.of(1)),
    'bad-indices',
    'position 0 is 1',
  ],
];

describe('@kd/data refuses bad inputs', () => {
  it.each(cases)('%s', async (_label, call, code, fragment) => {
    await expectRefused(call, code, fragment);
  });

  it('has a case for every own code (mnist-not-installed: mnistDigits.missing.test.ts; sharp-not-installed, image-worker-failed: imageFolder.missing / .worker.test.ts)', () => {
    const covered = new Set(cases.map((c) => c[2]));
    expect(Object.keys(dataErrorCodes).filter((c) => !covered.has(c))).toEqual([
      'mnist-not-installed',
      'sharp-not-installed',
      'image-worker-failed',
    ]);
  });

  it('IDX errors are IdxFormatErrors naming the file; IO errors keep their cause', async () => {
    const error = await expectRefused(() => readIdx(new Uint8Array([0, 0]), { name: 'f' }), 'idx-truncated', 'f: ');
    expect(error).toBeInstanceOf(IdxFormatError);
    expect((error as IdxFormatError).file).toBe('f');
    expect(error.name).toBe('IdxFormatError');
    const io = await expectRefused(() => loadIdxFile(join(dir, 'nope')), 'io-error', join(dir, 'nope'));
    expect((io.cause as { code?: string }).code).toBe('ENOENT');
    expect(isDistillationError(io)).toBe(true);
  });
});
