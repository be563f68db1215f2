import { DistillationError, type DistillationErrorOptions } from '@kd/core';

/**
 * Every code `@kd/bit` throws itself, with what it means. Besides these, `@kd/bit` throws
 * `@kd/core`'s `bad-option` and `unknown-option` (options), `bad-data` / `empty-data` (data sets),
 * `bad-student` (bitFineTune's model) and `io-error` (a file that cannot be read) with core's
 * meaning. Match on `code` with `isDistillationError(error, code)`.
 */
export const bitErrorCodes = {
  'bad-npy': 'A .npy array is not a .npy file (bad magic), has an unreadable header or is truncated.',
  'unsupported-npy': 'A .npy array is Fortran-ordered or of a dtype other than float32, float64, int32, int64 and uint8.',
  'bad-npz': 'An .npz file is not a zip of .npy arrays, or is truncated or corrupted.',
  'unsupported-npz': 'An .npz entry uses a zip compression method other than stored and deflate.',
  'npz-needs-inflate': 'An .npz entry is deflated and no inflateRaw function was given (the browser entry has none).',
  'bad-arrays': 'assignBitWeights got no Map of .npy arrays by key (as parseNpz returns), or an array whose data does not fill its shape.',
  'weights-mismatch':
    "A checkpoint's keys or shapes do not match the model (missing, unexpected and mismatched keys are listed); nothing was assigned.",
  'not-a-layers-model': 'A function that reads or writes model weights got something other than a tfjs LayersModel.',
  'unknown-initializer': 'An initializer name, or a serialised initializer class, is not one the BiT layers know.',
  'group-norm-channels': "GroupNormalization's input channel count is unknown or not divisible by its groups.",
  'bad-conv-input': "StandardizedConv2D's input is not NHWC with a known channel count.",
  'bad-kernel': 'standardizeWeight got a kernel that is not a 4-D HWIO tensor.',
  'groups-mismatch':
    "A ResNet-v2's root filters, a stage's cout or cout / 4 is not divisible into its GroupNorm groups (or cout is not a multiple of 4).",
  'crop-exceeds-resize': "BiT preprocessing's crop is larger than its resize.",
  'bad-images': 'BiT preprocessing got something that is not an image batch tensor [N, H, W, C].',
  'bad-hyper-rule': "bitFineTune's rule is not a HyperRule (as hyperRule() returns: resize, crop, batchSize, totalSteps, schedule).",
} as const;

/** A code of `@kd/bit`'s own errors. */
export type BitErrorCode = keyof typeof bitErrorCodes;

/** An error `@kd/bit` throws with one of its own codes (see {@link bitErrorCodes}). */
export class BitError extends DistillationError<BitErrorCode> {
  constructor(code: BitErrorCode, message: string, options?: DistillationErrorOptions) {
    super(code, message, options);
    this.name = 'BitError';
  }
}
