/**
 * Node-only part of `@kd/data`: IDX files (gzipped or not) from the file system, the
 * Fashion-MNIST loader, and CIFAR / CSV / JSONL sources read from files. Import from `@kd/data/node`.
 * @packageDocumentation
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DistillationError, ioError, type LabeledData, optionsSchema, parseOptions } from '@kd/core';
import { z } from 'zod';
import { type CifarOptions, cifarFromParts } from './cifar';
import { DataError } from './errors';
import { type IdxArray, type ReadIdxOptions, readIdx as readIdxBrowser, readIdxSchema } from './idx';
import { idxSource } from './idxSource';
import { FASHION_MNIST_CLASSES, idxToLabeledData } from './labeled';
import type { LabeledSource } from './sources';
import { type CsvOptions, type JsonlOptions, readCsv, readJsonl, type TabularSource } from './tabular';

/** Where Debian's `dataset-fashion-mnist` package installs the IDX files. */
export const FASHION_MNIST_DIRECTORY = '/usr/share/datasets/fashion-mnist';

/** {@link readIdx} of the main entry, decompressing gzip input with `node:zlib`. */
export function readIdx(bytes: Uint8Array, options: ReadIdxOptions = {}): IdxArray {
  const { name, gunzip } = parseOptions(readIdxSchema, options, 'readIdx');
  return readIdxBrowser(bytes, { name, gunzip: gunzip ?? ((b) => new Uint8Array(gunzipSync(b))) });
}

function checkPath(path: unknown, where: string): asserts path is string {
  if (typeof path !== 'string' || path === '') {
    throw new DistillationError(
      'bad-option',
      `${where}: path must be a non-empty string, got ${typeof path === 'string' ? "''" : String(path)}`,
    );
  }
}

/**
 * Reads and decodes an IDX file (gzipped or not); errors name the path. A file that cannot be
 * read throws `io-error` (the cause kept), malformed contents an `IdxFormatError`.
 */
export async function loadIdxFile(path: string): Promise<IdxArray> {
  checkPath(path, 'loadIdxFile');
  const { readFile } = await import('node:fs/promises');
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (error) {
    throw ioError('read IDX file', path, error);
  }
  return readIdx(bytes, { name: path });
}

/** Options of {@link loadFashionMnist}. */
export interface FashionMnistOptions {
  /** Directory with the four IDX files (`.gz` or not). Default `/usr/share/datasets/fashion-mnist`. */
  readonly directory?: string;
}

/** Schema of {@link FashionMnistOptions} (defaults applied). */
export const loadFashionMnistSchema = optionsSchema<FashionMnistOptions>()({
  directory: z
    .string({ message: 'must be a non-empty string' })
    .min(1, { message: 'must be a non-empty string' })
    .default(FASHION_MNIST_DIRECTORY),
});

/** Fashion-MNIST as tensors; the caller disposes `train` and `test`. */
export interface FashionMnist {
  /** 60 000 examples: x float32 `[N, 28, 28, 1]` in [0, 1], y int32 `[N]`. */
  readonly train: LabeledData;
  /** 10 000 examples, same layout. */
  readonly test: LabeledData;
  /** The ten class names, by label. */
  readonly classNames: string[];
}

function findFile(directory: string, base: string): string {
  for (const name of [`${base}.gz`, base]) {
    const path = join(directory, name);
    if (existsSync(path)) return path;
  }
  throw new DataError(
    'dataset-not-found',
    `loadFashionMnist: ${join(directory, `${base}.gz`)} (or ${base}) not found. Install the data set with \`apt-get install -y dataset-fashion-mnist\` or pass { directory } holding the IDX files`,
  );
}

/** The four IDX files of Fashion-MNIST in `directory`; throws `dataset-not-found` naming what is missing. */
function fashionMnistPaths(directory: string) {
  let isDirectory = false;
  if (existsSync(directory)) {
    try {
      isDirectory = statSync(directory).isDirectory();
    } catch (error) {
      throw ioError('stat the Fashion-MNIST directory', directory, error);
    }
  }
  if (!isDirectory) {
    throw new DataError(
      'dataset-not-found',
      `loadFashionMnist: directory ${directory} does not exist or is not a directory. Install Fashion-MNIST with \`apt-get install -y dataset-fashion-mnist\` (files land in ${FASHION_MNIST_DIRECTORY}) or pass { directory }`,
    );
  }
  return {
    trainImages: findFile(directory, 'train-images-idx3-ubyte'),
    trainLabels: findFile(directory, 'train-labels-idx1-ubyte'),
    testImages: findFile(directory, 't10k-images-idx3-ubyte'),
    testLabels: findFile(directory, 't10k-labels-idx1-ubyte'),
  };
}

/**
 * Loads Fashion-MNIST (Xiao et al. 2017) from its IDX files: `train-images-idx3-ubyte`,
 * `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte` (each `.gz` or
 * not). On Debian/Ubuntu images with the kd apt source: `apt-get install -y dataset-fashion-mnist`.
 * A missing directory or file throws `dataset-not-found`, one that cannot be read `io-error`.
 */
export async function loadFashionMnist(options: FashionMnistOptions = {}): Promise<FashionMnist> {
  const { directory } = parseOptions(loadFashionMnistSchema, options, 'loadFashionMnist');
  const paths = fashionMnistPaths(directory);
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all(
    [paths.trainImages, paths.trainLabels, paths.testImages, paths.testLabels].map(loadIdxFile),
  );
  const train = idxToLabeledData(trainImages!, trainLabels!, { images: paths.trainImages, labels: paths.trainLabels });
  const test = idxToLabeledData(testImages!, testLabels!, { images: paths.testImages, labels: paths.testLabels });
  return { train, test, classNames: [...FASHION_MNIST_CLASSES] };
}

/** Fashion-MNIST as sources over the IDX bytes (see {@link loadFashionMnistSources}). */
export interface FashionMnistSources {
  /** 60,000 examples `[28, 28, 1]` in [0, 1]; ids `train:<index>`. */
  readonly train: LabeledSource;
  /** 10,000 examples; ids `test:<index>`. */
  readonly test: LabeledSource;
  readonly classNames: string[];
}

/**
 * {@link loadFashionMnist} as sources (`idxSource`): the images stay bytes (56 MB for both
 * splits instead of 220 MB of float tensors) and are scaled to [0, 1] per batch, bit for bit the
 * values of the tensors. Same directory, checks and errors as {@link loadFashionMnist}.
 */
export async function loadFashionMnistSources(options: FashionMnistOptions = {}): Promise<FashionMnistSources> {
  const { directory } = parseOptions(loadFashionMnistSchema, options, 'loadFashionMnistSources');
  const paths = fashionMnistPaths(directory);
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all(
    [paths.trainImages, paths.trainLabels, paths.testImages, paths.testLabels].map(loadIdxFile),
  );
  const train = idxSource(trainImages!, trainLabels!, { images: paths.trainImages, labels: paths.trainLabels, classes: 10, name: 'train' });
  const test = idxSource(testImages!, testLabels!, { images: paths.testImages, labels: paths.testLabels, classes: 10, name: 'test' });
  return { train, test, classNames: [...FASHION_MNIST_CLASSES] };
}

/** Synchronous {@link loadIdxFile}. */
export function loadIdxFileSync(path: string): IdxArray {
  checkPath(path, 'loadIdxFileSync');
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (error) {
    throw ioError('read IDX file', path, error);
  }
  return readIdx(bytes, { name: path });
}

/**
 * CIFAR binary batch files read into one source (see `cifarBinary` of the main entry), in the
 * order given: e.g. CIFAR-10's `data_batch_1.bin` ... `data_batch_5.bin` (50 000 examples) or
 * CIFAR-100's `train.bin`. Ids are the record index across all files (or `${name}:${index}`).
 * A file that cannot be read throws `io-error`; `cifar-bad-length` / `cifar-bad-label` name the file.
 */
export async function cifarFiles(paths: string | readonly string[], options: CifarOptions): Promise<LabeledSource> {
  const list = typeof paths === 'string' ? [paths] : paths;
  if (!Array.isArray(list) || list.length === 0) {
    throw new DistillationError('bad-option', `cifarFiles: paths must be a path or a non-empty array of paths, got ${String(paths)}`);
  }
  for (const path of list) checkPath(path, 'cifarFiles');
  const { readFile } = await import('node:fs/promises');
  const parts = await Promise.all(
    list.map(async (path: string) => {
      try {
        return { bytes: new Uint8Array(await readFile(path)), name: path };
      } catch (error) {
        throw ioError('read CIFAR file', path, error);
      }
    }),
  );
  return cifarFromParts(parts, options, 'cifarFiles');
}

async function readText(path: string, what: string, where: string): Promise<string> {
  checkPath(path, where);
  const { readFile } = await import('node:fs/promises');
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw ioError(`read ${what} file`, path, error);
  }
}

/** {@link csvSource} of a file's text (UTF-8); messages and description name the path (ids stay row indices unless `name` is given). `io-error` when it cannot be read. */
export async function csvFile(path: string, options: CsvOptions): Promise<TabularSource> {
  const text = await readText(path, 'CSV', 'csvFile');
  return readCsv(text, options, 'csvFile', path);
}

/** {@link jsonlSource} of a file's text (UTF-8); messages and description name the path (ids stay row indices unless `name` is given). `io-error` when it cannot be read. */
export async function jsonlFile(path: string, options: JsonlOptions): Promise<TabularSource> {
  const text = await readText(path, 'JSONL', 'jsonlFile');
  return readJsonl(text, options, 'jsonlFile', path);
}

export { DataError, type DataErrorCode, dataErrorCodes } from './errors';
export { type IdxArray, IdxFormatError, type ReadIdxOptions, readIdxSchema } from './idx';
export { type ImageFolderOptions, type ImageFolderSource, imageFolder, imageFolderSchema, type SkippedFile } from './imageFolder';
export { FASHION_MNIST_CLASSES } from './labeled';
export { loadMnistDigits, loadMnistDigitsSchema, type MnistDigitsOptions } from './mnistDigits';
export { registry } from './registry';
