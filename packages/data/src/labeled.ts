import { type LabeledData, optionsSchema, parseOptions } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { type IdxArray, IdxFormatError } from './idx';

/** Names of the ten Fashion-MNIST classes, by label. */
export const FASHION_MNIST_CLASSES: readonly string[] = Object.freeze([
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
]);

/** Names of the files {@link idxToLabeledData} read, used in its error messages. */
export interface IdxNames {
  /** Default `'images'`. */
  readonly images?: string;
  /** Default `'labels'`. */
  readonly labels?: string;
}

/** Schema of {@link IdxNames} (defaults applied). */
export const idxToLabeledDataSchema = optionsSchema<IdxNames>()({
  images: z.string({ message: 'must be a string' }).default('images'),
  labels: z.string({ message: 'must be a string' }).default('labels'),
});

function isIdxArray(value: unknown): value is IdxArray {
  const a = value as IdxArray | null;
  return typeof a === 'object' && a !== null && Array.isArray(a.shape) && ArrayBuffer.isView(a.data) && typeof a.dtype === 'string';
}

function describeIdx(value: unknown): string {
  return isIdxArray(value) ? `${value.dtype} [${value.shape.join(', ')}]` : value === null ? 'null' : typeof value;
}

/**
 * Checks decoded IDX images `[N, H, W]` (uint8) and labels `[N]` (uint8 or int32) belong
 * together; returns `[N, H, W]` (internal: {@link idxToLabeledData} and `idxSource`).
 */
export function checkIdxPair(images: IdxArray, labels: IdxArray, imagesName: string, labelsName: string): [number, number, number] {
  if (
    !isIdxArray(images) ||
    images.dtype !== 'uint8' ||
    images.shape.length !== 3 ||
    images.data.length !== images.shape.reduce((a, b) => a * b, 1)
  ) {
    throw new IdxFormatError('idx-not-images', imagesName, `expected uint8 images [N, H, W], got ${describeIdx(images)}`);
  }
  if (
    !isIdxArray(labels) ||
    labels.shape.length !== 1 ||
    (labels.dtype !== 'uint8' && labels.dtype !== 'int32') ||
    labels.data.length !== labels.shape[0]
  ) {
    throw new IdxFormatError('idx-not-labels', labelsName, `expected uint8 labels [N], got ${describeIdx(labels)}`);
  }
  const [n, h, w] = images.shape as [number, number, number];
  if (labels.shape[0] !== n) {
    throw new IdxFormatError('idx-count-mismatch', labelsName, `has ${labels.shape[0]} labels but ${imagesName} has ${n} images`);
  }
  return [n, h, w];
}

/**
 * Turns decoded IDX images `[N, H, W]` (uint8) and labels `[N]` into {@link LabeledData}: x float32
 * `[N, H, W, 1]` scaled to [0, 1], y int32 `[N]`. The caller disposes the tensors. Throws
 * {@link IdxFormatError} `idx-not-images`, `idx-not-labels` or `idx-count-mismatch`.
 */
export function idxToLabeledData(images: IdxArray, labels: IdxArray, names: IdxNames = {}): LabeledData {
  const { images: imagesName, labels: labelsName } = parseOptions(idxToLabeledDataSchema, names, 'idxToLabeledData');
  const [n, h, w] = checkIdxPair(images, labels, imagesName, labelsName);
  const x = new Float32Array(images.data.length);
  const source = images.data;
  for (let i = 0; i < x.length; i++) x[i] = source[i]! / 255;
  return {
    x: tf.tensor4d(x, [n, h, w, 1], 'float32'),
    y: tf.tensor1d(Int32Array.from(labels.data), 'int32'),
  };
}
