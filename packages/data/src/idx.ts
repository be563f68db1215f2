import { functionSchema, optionsSchema, parseOptions } from '@kd/core';
import { z } from 'zod';
import { DataError, type DataErrorCode } from './errors';

/** Element types of the IDX format, by their type code (third byte of the magic number). */
export type IdxDataType = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

/** Typed array holding the values of an {@link IdxArray}. */
export type IdxValues = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** A decoded IDX file: row-major values with their shape. */
export interface IdxArray {
  readonly dtype: IdxDataType;
  /** Dimensions from the header, e.g. `[60000, 28, 28]` for MNIST images. */
  readonly shape: readonly number[];
  /** Row-major values in host byte order. */
  readonly data: IdxValues;
}

/** Options of {@link readIdx}. */
export interface ReadIdxOptions {
  /** Name of the file the bytes came from; every error message names it. Default `'IDX data'`. */
  readonly name?: string;
  /**
   * Decompresses gzip data (bytes starting with `1f 8b`). The browser-safe entry has none, so
   * gzipped input throws unless you pass one; `readIdx` of `@kd/data/node` passes `node:zlib`'s
   * `gunzipSync`.
   */
  readonly gunzip?: (bytes: Uint8Array) => Uint8Array;
}

/** Schema of {@link ReadIdxOptions} (defaults applied). */
export const readIdxSchema = optionsSchema<ReadIdxOptions>()({
  name: z.string({ message: 'must be a non-empty string' }).min(1, { message: 'must be a non-empty string' }).default('IDX data'),
  gunzip: functionSchema<(bytes: Uint8Array) => Uint8Array>('a function (bytes: Uint8Array) => Uint8Array').optional(),
});

/**
 * A malformed IDX file (wrong magic, unknown type code, truncated or oversized data, images and
 * labels that do not fit together). A {@link DataError}: `code` says what is wrong, `file` names
 * the file and starts the message.
 */
export class IdxFormatError extends DataError {
  constructor(
    code: DataErrorCode,
    readonly file: string,
    message: string,
    options?: { readonly cause?: unknown },
  ) {
    super(code, `${file}: ${message}`, options);
    this.name = 'IdxFormatError';
  }
}

const TYPES = new Map<number, { dtype: IdxDataType; size: number }>([
  [0x08, { dtype: 'uint8', size: 1 }],
  [0x09, { dtype: 'int8', size: 1 }],
  [0x0b, { dtype: 'int16', size: 2 }],
  [0x0c, { dtype: 'int32', size: 4 }],
  [0x0d, { dtype: 'float32', size: 4 }],
  [0x0e, { dtype: 'float64', size: 8 }],
]);

/** Type code of each IDX element type (for writers and tests). */
export const IDX_TYPE_CODES: Readonly<Record<IdxDataType, number>> = {
  uint8: 0x08,
  int8: 0x09,
  int16: 0x0b,
  int32: 0x0c,
  float32: 0x0d,
  float64: 0x0e,
};

/** Whether `bytes` start with the gzip magic `1f 8b`. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Decodes an IDX file (the MNIST / Fashion-MNIST format): magic `00 00 <type> <ndims>`, then
 * `ndims` big-endian uint32 dimensions, then the big-endian values.
 *
 * Validates the magic number, the type code, the dimensions and that the data length is exactly
 * the product of the dimensions times the element size; errors ({@link IdxFormatError}, codes
 * `idx-*`) name the file. Gzipped bytes are decompressed with `options.gunzip` (see
 * `@kd/data/node`). Options are checked first (`unknown-option`, `bad-option`).
 */
export function readIdx(bytes: Uint8Array, options: ReadIdxOptions = {}): IdxArray {
  const { name: file, gunzip } = parseOptions(readIdxSchema, options, 'readIdx');
  if (!(bytes instanceof Uint8Array)) {
    const got =
      bytes === null
        ? 'null'
        : Array.isArray(bytes)
          ? 'an array'
          : typeof bytes === 'object'
            ? `a ${(bytes as object).constructor?.name ?? 'object'}`
            : typeof bytes;
    throw new IdxFormatError('idx-not-bytes', file, `expected the file contents as a Uint8Array, got ${got}`);
  }
  if (isGzip(bytes)) {
    if (!gunzip) {
      throw new IdxFormatError(
        'idx-gzipped',
        file,
        'is gzip-compressed; decompress it first or use readIdx / loadIdxFile from @kd/data/node',
      );
    }
    try {
      bytes = gunzip(bytes);
    } catch (error) {
      throw new IdxFormatError(
        'idx-bad-gzip',
        file,
        `is not valid gzip data (${(error as Error).message}); the download may be truncated`,
        {
          cause: error,
        },
      );
    }
    if (!(bytes instanceof Uint8Array)) {
      throw new IdxFormatError('idx-bad-gzip', file, 'gunzip did not return a Uint8Array');
    }
  }
  if (bytes.length < 4) {
    throw new IdxFormatError('idx-truncated', file, `is truncated: ${bytes.length} bytes, shorter than the 4-byte IDX magic number`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const magic = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new IdxFormatError('idx-bad-magic', file, `is not an IDX file: magic number ${magic} does not start with 00 00`);
  }
  const code = bytes[2]!;
  const type = TYPES.get(code);
  if (!type) {
    throw new IdxFormatError(
      'idx-unknown-type',
      file,
      `has unknown IDX type code 0x${code.toString(16).padStart(2, '0')} (expected 0x08, 0x09, 0x0b, 0x0c, 0x0d or 0x0e)`,
    );
  }
  const ndims = bytes[3]!;
  if (ndims === 0) throw new IdxFormatError('idx-no-dimensions', file, 'declares 0 dimensions');
  const headerLength = 4 + 4 * ndims;
  if (bytes.length < headerLength) {
    throw new IdxFormatError(
      'idx-truncated',
      file,
      `is truncated: the header declares ${ndims} dimensions (${headerLength} header bytes) but the file has ${bytes.length} bytes`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  for (let i = 0; i < ndims; i++) shape.push(view.getUint32(4 + 4 * i, false));
  const count = shape.reduce((a, b) => a * b, 1);
  const expected = count * type.size;
  const actual = bytes.length - headerLength;
  if (actual < expected) {
    throw new IdxFormatError(
      'idx-truncated',
      file,
      `is truncated: shape [${shape.join(', ')}] of ${type.dtype} needs ${expected} data bytes, found ${actual}`,
    );
  }
  if (actual > expected) {
    throw new IdxFormatError(
      'idx-trailing-bytes',
      file,
      `has ${actual - expected} unexpected trailing bytes after shape [${shape.join(', ')}] of ${type.dtype}`,
    );
  }
  return { dtype: type.dtype, shape, data: decode(view, headerLength, count, type.dtype) };
}

function decode(view: DataView, offset: number, count: number, dtype: IdxDataType): IdxValues {
  switch (dtype) {
    case 'uint8':
      return new Uint8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case 'int8':
      return new Int8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

/**
 * Encodes values as an (uncompressed) IDX file: the inverse of {@link readIdx}. Handy for tests
 * and for writing small data sets. Throws `bad-idx-array` for an unknown dtype, a shape that is
 * not 1 to 255 non-negative integers (< 2^32), or data whose length is not the shape's product.
 */
export function writeIdx(array: { dtype: IdxDataType; shape: readonly number[]; data: ArrayLike<number> }): Uint8Array {
  if (array === null || typeof array !== 'object') {
    throw new DataError('bad-idx-array', `writeIdx: expected { dtype, shape, data }, got ${String(array)}`);
  }
  if (!Object.hasOwn(IDX_TYPE_CODES, array.dtype)) {
    throw new DataError(
      'bad-idx-array',
      `writeIdx: dtype must be one of ${Object.keys(IDX_TYPE_CODES).join(', ')}, got ${String(array.dtype)}`,
    );
  }
  const { shape, data } = array;
  if (
    !Array.isArray(shape) ||
    shape.length < 1 ||
    shape.length > 255 ||
    shape.some((d) => !Number.isInteger(d) || d < 0 || d > 0xffffffff)
  ) {
    throw new DataError('bad-idx-array', `writeIdx: shape must be 1 to 255 non-negative integer dimensions, got ${JSON.stringify(shape)}`);
  }
  if (data == null || typeof data.length !== 'number') {
    throw new DataError('bad-idx-array', 'writeIdx: data must be an array or typed array of numbers');
  }
  const code = IDX_TYPE_CODES[array.dtype];
  const size = TYPES.get(code)!.size;
  const count = shape.reduce((a, b) => a * b, 1);
  if (data.length !== count) {
    throw new DataError('bad-idx-array', `writeIdx: shape [${shape.join(', ')}] needs ${count} values, got ${data.length}`);
  }
  const header = 4 + 4 * array.shape.length;
  const out = new Uint8Array(header + count * size);
  const view = new DataView(out.buffer);
  out[2] = code;
  out[3] = array.shape.length;
  array.shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  for (let i = 0; i < count; i++) {
    const v = array.data[i]!;
    const at = header + i * size;
    if (array.dtype === 'uint8') view.setUint8(at, v);
    else if (array.dtype === 'int8') view.setInt8(at, v);
    else if (array.dtype === 'int16') view.setInt16(at, v, false);
    else if (array.dtype === 'int32') view.setInt32(at, v, false);
    else if (array.dtype === 'float32') view.setFloat32(at, v, false);
    else view.setFloat64(at, v, false);
  }
  return out;
}
