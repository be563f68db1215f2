import { DistillationError, optionsSchema, parseOptions } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import { BitError } from './errors';
import { nameSchema } from './schemas';

/** One array of a `.npy` / `.npz` file. */
export interface NpyArray {
  readonly shape: number[];
  readonly dtype: 'float32' | 'float64' | 'int32' | 'int64' | 'uint8';
  /** Values in C order (int64 converted to float64 numbers). */
  readonly data: Float32Array | Float64Array | Int32Array | Uint8Array;
}

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/**
 * Parses a `.npy` file (format 1.0 / 2.0 / 3.0; little- or big-endian numeric dtypes; C order).
 * Throws `bad-npy` for a file that is not `.npy` or is truncated, `unsupported-npy` for Fortran
 * order or another dtype.
 */
export function parseNpy(bytes: Uint8Array, name = 'array.npy'): NpyArray {
  if (!(bytes instanceof Uint8Array)) throw new BitError('bad-npy', `${name}: expected the file contents as a Uint8Array`);
  if (bytes.length < 10 || NPY_MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new BitError('bad-npy', `${name}: not a .npy file (bad magic)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6]!;
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  if (bytes.length < headerStart + headerLength) {
    throw new BitError('bad-npy', `${name}: truncated: the header needs ${headerStart + headerLength} bytes, the file has ${bytes.length}`);
  }
  const header = new TextDecoder('latin1').decode(bytes.subarray(headerStart, headerStart + headerLength));
  const descr = /'descr'\s*:\s*'([<>|=])([a-z])(\d+)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeMatch = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shapeMatch) throw new BitError('bad-npy', `${name}: unreadable .npy header ${header.trim()}`);
  if (fortran[1] === 'True') throw new BitError('unsupported-npy', `${name}: Fortran-order arrays are not supported`);
  const shape = shapeMatch[1]!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0))
    throw new BitError('bad-npy', `${name}: unreadable shape (${shapeMatch[1]}) in the .npy header`);
  const count = shape.reduce((a, b) => a * b, 1);
  const little = descr[1] !== '>';
  const kind = descr[2]!;
  const size = Number(descr[3]);
  const supported =
    (kind === 'f' && (size === 4 || size === 8)) || (kind === 'i' && (size === 4 || size === 8)) || (kind === 'u' && size === 1);
  if (!supported)
    throw new BitError(
      'unsupported-npy',
      `${name}: unsupported dtype ${descr[1]}${kind}${size} (float32, float64, int32, int64 and uint8 are)`,
    );
  const offset = headerStart + headerLength;
  if (bytes.length - offset < count * size) {
    throw new BitError(
      'bad-npy',
      `${name}: truncated: shape (${shape}) of ${kind}${size} needs ${count * size} bytes, found ${bytes.length - offset}`,
    );
  }
  const read = (i: number): number => {
    const at = offset + i * size;
    if (kind === 'f' && size === 4) return view.getFloat32(at, little);
    if (kind === 'f' && size === 8) return view.getFloat64(at, little);
    if (kind === 'i' && size === 4) return view.getInt32(at, little);
    if (kind === 'i' && size === 8) return Number(view.getBigInt64(at, little));
    return view.getUint8(at);
  };
  const dtype = kind === 'f' ? (size === 4 ? 'float32' : 'float64') : kind === 'u' ? 'uint8' : size === 4 ? 'int32' : 'int64';
  const data =
    dtype === 'float32'
      ? new Float32Array(count)
      : dtype === 'int32'
        ? new Int32Array(count)
        : dtype === 'uint8'
          ? new Uint8Array(count)
          : new Float64Array(count);
  for (let i = 0; i < count; i++) data[i] = read(i);
  return { shape, dtype, data };
}

/**
 * Parses a `.npz` (a zip of `.npy` files, entries stored or deflated). `inflateRaw` decompresses
 * deflated entries (`node:zlib`'s `inflateRawSync` in `@kd/bit/node`). Keys drop the `.npy`.
 * Throws `bad-npz` for a file that is not a zip or is truncated or corrupted, `unsupported-npz`
 * for another compression method, `npz-needs-inflate` for a deflated entry without `inflateRaw`,
 * and the `.npy` errors of {@link parseNpy} for its arrays.
 */
export function parseNpz(bytes: Uint8Array, inflateRaw?: (data: Uint8Array) => Uint8Array, name = 'weights.npz'): Map<string, NpyArray> {
  if (inflateRaw !== undefined && typeof inflateRaw !== 'function') {
    throw new DistillationError(
      'bad-option',
      `parseNpz: inflateRaw must be a function (data: Uint8Array) => Uint8Array, got ${typeof inflateRaw}`,
    );
  }
  if (!(bytes instanceof Uint8Array)) throw new BitError('bad-npz', `${name}: expected the file contents as a Uint8Array`);
  try {
    return readZip(bytes, inflateRaw, name);
  } catch (error) {
    // Offsets that point past the end (a truncated or corrupted file) make DataView throw.
    if (error instanceof RangeError)
      throw new BitError('bad-npz', `${name}: truncated or corrupted zip (${error.message})`, { cause: error });
    throw error;
  }
}

function readZip(bytes: Uint8Array, inflateRaw: ((data: Uint8Array) => Uint8Array) | undefined, name: string): Map<string, NpyArray> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new BitError('bad-npz', `${name}: not a zip / .npz file (no end-of-central-directory record)`);
  let entries = view.getUint16(eocd + 10, true);
  let cdOffset = view.getUint32(eocd + 16, true);
  if (entries === 0xffff || cdOffset === 0xffffffff) {
    // zip64: the locator precedes the EOCD
    const locator = eocd - 20;
    if (locator < 0 || view.getUint32(locator, true) !== 0x07064b50) throw new BitError('bad-npz', `${name}: broken zip64 record`);
    const zip64 = Number(view.getBigUint64(locator + 8, true));
    entries = Number(view.getBigUint64(zip64 + 32, true));
    cdOffset = Number(view.getBigUint64(zip64 + 48, true));
  }
  const decoder = new TextDecoder();
  const out = new Map<string, NpyArray>();
  let p = cdOffset;
  for (let e = 0; e < entries; e++) {
    if (view.getUint32(p, true) !== 0x02014b50) throw new BitError('bad-npz', `${name}: broken central directory at entry ${e}`);
    const method = view.getUint16(p + 10, true);
    let compressedSize = view.getUint32(p + 20, true);
    const nameLength = view.getUint16(p + 28, true);
    const extraLength = view.getUint16(p + 30, true);
    const commentLength = view.getUint16(p + 32, true);
    let localOffset = view.getUint32(p + 42, true);
    const entryName = decoder.decode(bytes.subarray(p + 46, p + 46 + nameLength));
    if (compressedSize === 0xffffffff || localOffset === 0xffffffff) {
      // zip64 extra field: uncompressed, compressed, offset (only the saturated ones, in order)
      let q = p + 46 + nameLength;
      const end = q + extraLength;
      while (q < end) {
        const id = view.getUint16(q, true);
        const size = view.getUint16(q + 2, true);
        if (id === 1) {
          let r = q + 4;
          if (view.getUint32(p + 24, true) === 0xffffffff) r += 8;
          if (compressedSize === 0xffffffff) {
            compressedSize = Number(view.getBigUint64(r, true));
            r += 8;
          }
          if (localOffset === 0xffffffff) localOffset = Number(view.getBigUint64(r, true));
        }
        q += 4 + size;
      }
    }
    p += 46 + nameLength + extraLength + commentLength;
    if (view.getUint32(localOffset, true) !== 0x04034b50) throw new BitError('bad-npz', `${name}: broken local header of ${entryName}`);
    const start = localOffset + 30 + view.getUint16(localOffset + 26, true) + view.getUint16(localOffset + 28, true);
    if (start + compressedSize > bytes.length) {
      throw new BitError(
        'bad-npz',
        `${name}: truncated: ${entryName} needs ${compressedSize} bytes at offset ${start}, the file has ${bytes.length}`,
      );
    }
    const raw = bytes.subarray(start, start + compressedSize);
    let data: Uint8Array;
    if (method === 0) data = raw;
    else if (method === 8) {
      if (!inflateRaw)
        throw new BitError('npz-needs-inflate', `${name}: ${entryName} is deflated; pass an inflateRaw function (or use @kd/bit/node)`);
      try {
        data = inflateRaw(raw);
      } catch (error) {
        throw new BitError('bad-npz', `${name}: ${entryName} does not inflate (${(error as Error).message}); the file is corrupted`, {
          cause: error,
        });
      }
    } else throw new BitError('unsupported-npz', `${name}: ${entryName} uses unsupported zip compression method ${method}`);
    if (!entryName.endsWith('.npy')) continue;
    out.set(entryName.slice(0, -4), parseNpy(data, `${name}:${entryName}`));
  }
  return out;
}

/** Options of {@link assignBitWeights}. */
export interface AssignWeightsOptions {
  /**
   * Leave the head (`resnet/head/...`) alone: its keys are neither required nor loaded, as BiT's
   * `zero_head` fine-tuning does. Default false.
   */
  readonly skipHead?: boolean;
  /** Name used in error messages. */
  readonly source?: string;
}

/** Schema of {@link AssignWeightsOptions} (defaults applied). */
export const assignBitWeightsSchema = optionsSchema<AssignWeightsOptions>()({
  skipHead: z.boolean().default(false),
  source: nameSchema.default('weights'),
});

/** What {@link assignBitWeights} did. */
export interface AssignWeightsReport {
  /** Keys assigned, in model order. */
  readonly assigned: string[];
  /** Keys in the file that were skipped (head with `skipHead`). */
  readonly skipped: string[];
}

function isHead(key: string): boolean {
  return /(^|\/)head\//.test(key);
}

/**
 * Assigns every weight of `model` from `arrays` by key (the weight's `originalName`, which for
 * the `@kd/bit` builders is BiT's key). Checks everything first and throws one error listing the
 * missing keys, unexpected keys and shape mismatches (`weights-mismatch`); only then assigns
 * (all or nothing).
 */
export function assignBitWeights(
  model: tfl.LayersModel,
  arrays: Map<string, NpyArray>,
  input: AssignWeightsOptions = {},
): AssignWeightsReport {
  const options = parseOptions(assignBitWeightsSchema, input, 'assignBitWeights');
  const { source } = options;
  if (!(model instanceof tfl.LayersModel)) {
    throw new BitError(
      'not-a-layers-model',
      `assignBitWeights: expected a tfjs LayersModel, got ${model === null ? 'null' : typeof model}`,
    );
  }
  if (!(arrays instanceof Map)) {
    throw new BitError(
      'bad-arrays',
      `assignBitWeights: expected a Map of arrays by key (as parseNpz returns), got ${arrays === null ? 'null' : typeof arrays}`,
    );
  }
  for (const [key, a] of arrays) {
    const ok =
      a !== null &&
      typeof a === 'object' &&
      Array.isArray(a.shape) &&
      ArrayBuffer.isView(a.data) &&
      (a.data as ArrayLike<number>).length === a.shape.reduce((p, d) => p * d, 1);
    if (!ok) throw new BitError('bad-arrays', `assignBitWeights: ${source} entry ${key} is not an array whose data fills its shape`);
  }
  const weights = model.weights.filter((w) => !(options.skipHead && isHead(w.originalName)));
  const wanted = new Map(weights.map((w) => [w.originalName, w]));
  const missing = [...wanted.keys()].filter((k) => !arrays.has(k));
  const skipped = [...arrays.keys()].filter((k) => options.skipHead && isHead(k));
  const unexpected = [...arrays.keys()].filter((k) => !wanted.has(k) && !skipped.includes(k));
  const mismatched: string[] = [];
  for (const [key, w] of wanted) {
    const a = arrays.get(key);
    if (a && (a.shape.length !== w.shape.length || a.shape.some((d, i) => d !== w.shape[i]))) {
      mismatched.push(`${key}: file [${a.shape.join(', ')}] vs model [${w.shape.join(', ')}]`);
    }
  }
  if (missing.length || unexpected.length || mismatched.length) {
    const lines = [`Cannot load ${source} into "${model.name}":`];
    if (missing.length) lines.push(`missing keys (${missing.length}): ${missing.join(', ')}`);
    if (unexpected.length) lines.push(`unexpected keys (${unexpected.length}): ${unexpected.join(', ')}`);
    if (mismatched.length) lines.push(`shape mismatches (${mismatched.length}): ${mismatched.join('; ')}`);
    throw new BitError('weights-mismatch', lines.join('\n'));
  }
  for (const [key, w] of wanted) {
    const a = arrays.get(key)!;
    const t = tf.tensor(Float32Array.from(a.data as ArrayLike<number>), a.shape, 'float32');
    w.write(t);
    t.dispose();
  }
  return { assigned: [...wanted.keys()], skipped };
}
