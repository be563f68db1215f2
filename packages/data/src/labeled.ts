import type { LabeledData } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
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

/**
 * Turns decoded IDX images `[N, H, W]` (uint8) and labels `[N]` into {@link LabeledData}: x float32
 * `[N, H, W, 1]` scaled to [0, 1], y int32 `[N]`. The caller disposes the tensors.
 */
export function idxToLabeledData(
  images: IdxArray,
  labels: IdxArray,
  names: { images?: string; labels?: string } = {},
): LabeledData {
  const imagesName = names.images ?? 'images';
  const labelsName = names.labels ?? 'labels';
  if (images.dtype !== 'uint8' || images.shape.length !== 3) {
    throw new IdxFormatError(imagesName, `expected uint8 images [N, H, W], got ${images.dtype} [${images.shape.join(', ')}]`);
  }
  if (labels.shape.length !== 1 || (labels.dtype !== 'uint8' && labels.dtype !== 'int32')) {
    throw new IdxFormatError(labelsName, `expected uint8 labels [N], got ${labels.dtype} [${labels.shape.join(', ')}]`);
  }
  const [n, h, w] = images.shape as [number, number, number];
  if (labels.shape[0] !== n) {
    throw new IdxFormatError(labelsName, `has ${labels.shape[0]} labels but ${imagesName} has ${n} images`);
  }
  const x = new Float32Array(images.data.length);
  const source = images.data;
  for (let i = 0; i < x.length; i++) x[i] = source[i]! / 255;
  return {
    x: tf.tensor4d(x, [n, h, w, 1], 'float32'),
    y: tf.tensor1d(Int32Array.from(labels.data), 'int32'),
  };
}
