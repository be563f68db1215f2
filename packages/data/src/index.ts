/**
 * `@kd/data`: the IDX (MNIST-format) reader, seeded subsets and train/validation splits of
 * in-memory data sets. Browser-safe; file loading (and gunzip) lives in `@kd/data/node`.
 * @packageDocumentation
 */
export {
  IDX_TYPE_CODES,
  type IdxArray,
  type IdxDataType,
  IdxFormatError,
  type IdxValues,
  isGzip,
  type ReadIdxOptions,
  readIdx,
  writeIdx,
} from './idx';
export { FASHION_MNIST_CLASSES, idxToLabeledData } from './labeled';
export { subset, type TrainValidationSplit, take, trainValidationSplit } from './split';
export {
  type AugmentOptions,
  augment,
  type FlipOptions,
  horizontalFlip,
  type JitterOptions,
  jitter,
  type RandomCropOptions,
  randomCrop,
} from './augment';
