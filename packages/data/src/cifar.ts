import { DistillationError, optionsSchema, parseOptions } from '@kd/core';
import { z } from 'zod';
import { DataError } from './errors';
import { checkPositions, idsOf, type LabeledSource } from './sources';

/** Pixels of one CIFAR image: 3 planes (R, G, B) of 32 x 32. */
const PIXELS = 3 * 32 * 32;
const PLANE = 32 * 32;

/** Options of {@link cifarBinary} and `cifarFiles`. */
export interface CifarOptions {
  /** Which layout: `cifar10` (1 label byte + 3072 pixels) or `cifar100` (coarse, fine label byte + 3072 pixels). */
  readonly variant: 'cifar10' | 'cifar100';
  /** CIFAR-100 only: the 100 `fine` classes (default) or the 20 `coarse` superclasses. */
  readonly labels?: 'fine' | 'coarse';
  /** Names the bytes in messages and description, and prefixes the ids: `${name}:${index}`. Default: ids are the record indices. */
  readonly name?: string;
}

/** Schema of {@link CifarOptions}. */
export const cifarSchema = optionsSchema<CifarOptions>()({
  variant: z.enum(['cifar10', 'cifar100']),
  labels: z.enum(['fine', 'coarse']).optional(),
  name: z.string({ message: 'must be a non-empty string' }).min(1, { message: 'must be a non-empty string' }).optional(),
});

/** One file's (or buffer's) bytes and the name its errors use. */
export interface CifarPart {
  readonly bytes: Uint8Array;
  readonly name: string;
}

/** Checks each part and joins them into one source (internal: `cifarBinary` and `cifarFiles`). */
export function cifarFromParts(parts: readonly CifarPart[], options: CifarOptions, where: string): LabeledSource {
  const { variant, labels: which, name } = parseOptions(cifarSchema, options, where);
  if (variant === 'cifar10' && which !== undefined) {
    throw new DistillationError(
      'bad-option',
      `${where}: option "labels" applies to variant "cifar100" only (CIFAR-10 has one label byte), got "${which}"`,
    );
  }
  const labelBytes = variant === 'cifar10' ? 1 : 2;
  const record = labelBytes + PIXELS;
  const fine = which !== 'coarse';
  const numClasses = variant === 'cifar10' ? 10 : fine ? 100 : 20;
  const labelOffset = variant === 'cifar10' ? 0 : fine ? 1 : 0;
  let size = 0;
  for (const { bytes, name: file } of parts) {
    if (!(bytes instanceof Uint8Array)) {
      throw new DataError('cifar-not-bytes', `${where}: ${file}: expected the file contents as a Uint8Array, got ${typeof bytes}`);
    }
    if (bytes.length === 0 || bytes.length % record !== 0) {
      throw new DataError(
        'cifar-bad-length',
        `${where}: ${file}: ${bytes.length} bytes is not a whole number of ${variant} records of ${record} bytes ` +
          `(${labelBytes} label byte${labelBytes > 1 ? 's' : ''} + ${PIXELS} pixels)` +
          (bytes.length > 0 ? `: ${Math.floor(bytes.length / record)} records and ${bytes.length % record} bytes over` : ''),
      );
    }
    size += bytes.length / record;
  }
  if (parts.length === 0) throw new DistillationError('bad-option', `${where}: give at least one file`);
  const labels = new Int32Array(size);
  const pixels: Uint8Array[] = new Array(size);
  let k = 0;
  for (const { bytes, name: file } of parts) {
    const n = bytes.length / record;
    for (let i = 0; i < n; i++, k++) {
      const start = i * record;
      const label = bytes[start + labelOffset]!;
      if (label >= numClasses) {
        throw new DataError(
          'cifar-bad-label',
          `${where}: ${file}: record ${i} (byte ${start + labelOffset}) has ${variant === 'cifar10' ? '' : `${fine ? 'fine' : 'coarse'} `}label ${label}, not a class in [0, ${numClasses})`,
        );
      }
      labels[k] = label;
      pixels[k] = bytes.subarray(start + labelBytes, start + record);
    }
  }
  const description = `${variant}${variant === 'cifar100' ? ` ${fine ? 'fine' : 'coarse'}` : ''} ${name ?? parts.map((p) => p.name).join(', ')}`;
  return {
    kind: 'kd-source',
    size,
    exampleShape: [32, 32, 3],
    labels,
    numClasses,
    description,
    read(positions) {
      checkPositions(positions, size, where);
      const n = positions.length;
      const out = new Float32Array(n * PIXELS);
      for (let b = 0; b < n; b++) {
        const image = pixels[positions[b]!]!;
        const base = b * PIXELS;
        for (let q = 0; q < PLANE; q++) {
          const o = base + q * 3;
          out[o] = image[q]! / 255;
          out[o + 1] = image[PLANE + q]! / 255;
          out[o + 2] = image[2 * PLANE + q]! / 255;
        }
      }
      return { x: out, y: Int32Array.from(positions, (p) => labels[p]!), ids: idsOf(positions, name) };
    },
  };
}

/**
 * The examples of CIFAR's official binary files as a {@link LabeledSource}: CIFAR-10's
 * `data_batch_1.bin` ... `data_batch_5.bin` / `test_batch.bin` (records of 1 label byte + 3072
 * pixel bytes) or CIFAR-100's `train.bin` / `test.bin` (a coarse label byte, a fine label byte,
 * 3072 pixel bytes). The pixels of a record are three 32 x 32 planes, R then G then B, row by row.
 *
 * `read(positions)` returns x as a Float32Array of `n` images `[32, 32, 3]` (NHWC), each byte divided by 255 so values lie
 * in [0, 1] (no mean/std normalisation), y the `n` labels (Int32Array), and ids: the record index (counting across
 * all files), or `${name}:${index}` when `name` is given. `labels` holds all N labels up front and
 * `numClasses` is 10 (CIFAR-10), 100 (CIFAR-100 `fine`, the default) or 20 (`coarse`).
 *
 * The source keeps views into `bytes` (no copy): do not modify them while it is in use. Throws
 * `cifar-bad-length` for a length that is not a whole number of records, `cifar-bad-label` for a
 * label byte outside the classes (naming the record), `unknown-option` / `bad-option` for options.
 *
 * @example
 * ```ts
 * const source = cifarBinary(bytes, { variant: 'cifar100', labels: 'coarse', name: 'test' });
 * const { x, y, ids } = source.read(Int32Array.of(0, 5)); // x [2, 32, 32, 3], ids ['test:0', 'test:5']
 * ```
 */
export function cifarBinary(bytes: Uint8Array, options: CifarOptions): LabeledSource {
  const name = (options as { name?: unknown } | undefined)?.name;
  return cifarFromParts([{ bytes, name: typeof name === 'string' && name !== '' ? name : 'bytes' }], options, 'cifarBinary');
}
