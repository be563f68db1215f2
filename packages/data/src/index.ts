/**
 * `@kd/data`: the IDX (MNIST-format) reader, CIFAR binary and CSV / JSONL sources, seeded subsets
 * and train/validation splits of in-memory data sets. Browser-safe; file loading (and gunzip) lives in `@kd/data/node`.
 * @packageDocumentation
 */
export {
  type AugmentOptions,
  augment,
  augmentSchema,
  type FlipOptions,
  horizontalFlip,
  horizontalFlipSchema,
  type JitterOptions,
  jitter,
  jitterSchema,
  type RandomCropOptions,
  randomCrop,
  randomCropSchema,
} from './augment';
export { type CifarOptions, cifarBinary, cifarSchema } from './cifar';
export { DataError, type DataErrorCode, dataErrorCodes } from './errors';
export {
  IDX_TYPE_CODES,
  type IdxArray,
  type IdxDataType,
  IdxFormatError,
  type IdxValues,
  isGzip,
  type ReadIdxOptions,
  readIdx,
  readIdxSchema,
  writeIdx,
} from './idx';
export { type IdxSourceOptions, idxSource, idxSourceSchema } from './idxSource';
export { FASHION_MNIST_CLASSES, type IdxNames, idxToLabeledData, idxToLabeledDataSchema } from './labeled';
export { asSource, type LabeledSource } from './sources';
export {
  type SubsetOptions,
  subset,
  subsetSchema,
  type TrainValidationSplit,
  type TrainValidationSplitOptions,
  take,
  trainValidationSplit,
  trainValidationSplitSchema,
} from './split';
export {
  type Column,
  type CsvOptions,
  type CsvRecord,
  csvSource,
  csvSourceSchema,
  type JsonlOptions,
  jsonlSource,
  jsonlSourceSchema,
  parseCsv,
  type TabularSource,
} from './tabular';
export { type AugmentedViewsOptions, augmentedViews, augmentedViewsSchema, viewId } from './views';
