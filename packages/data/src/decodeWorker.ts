/**
 * Decodes image files into one Float32Array (internal to `imageFolder` of `@kd/data/node`). The
 * default export is the task of the piscina worker pool (its own tsup entry, `dist/decodeWorker.js`
 * / `.cjs`); {@link decodeFiles} is the same work on the calling thread (`workers: 0`). Imports
 * nothing but Node built-ins at load: sharp comes in by the path the main thread resolved, so a
 * worker uses the very sharp the main thread checked, and piscina only when the worker runs.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type sharpModule from 'sharp';

/** The `sharp` module's default export. */
export type Sharp = typeof sharpModule;

/** One task: the files of (part of) a batch and the layout to decode them to. */
export interface DecodeTask {
  /** Absolute paths, in batch order. */
  readonly files: readonly string[];
  readonly height: number;
  readonly width: number;
  readonly channels: 1 | 3;
  /** Absolute path of sharp's entry, as the main thread resolved it (workers only). */
  readonly sharpPath?: string;
  /** `sharp.concurrency(n)` before the worker's first image (workers only; process-wide, see imageFolder). */
  readonly sharpConcurrency?: number;
}

/** Why one file of a task failed: it could not be `read` from disk, or does not `decode`. */
export interface DecodeFailure {
  /** Index of the file in the task's `files`. */
  readonly index: number;
  readonly stage: 'read' | 'decode';
  readonly message: string;
  /** The file-system error's code (`ENOENT`, ...), for `read`. */
  readonly code?: string;
}

/** Either the pixels of every file of the task, or the failure of the first (lowest index) file that failed. */
export type DecodeResult =
  | { readonly x: Float32Array; readonly failure?: undefined }
  | { readonly x?: undefined; readonly failure: DecodeFailure };

/**
 * Files a task decodes at once: one, so each worker keeps one libuv thread busy (with
 * `sharp.concurrency(1)`, one core), and `workers` bounds the cores decoding takes from training.
 */
const IN_FLIGHT = 1;

/**
 * Reads and decodes `task.files` with `sharp` into one Float32Array of `files.length` images
 * `[height, width, channels]` (row-major, interleaved channels: NHWC), each byte divided by 255.
 * Per file: alpha dropped (not composited), stretched to `width` x `height` (`fit: 'fill'`,
 * bilinear; an image already that size is copied as is), then sRGB (greyscale replicated into 3
 * channels) or sharp's greyscale (libvips `b-w`: luminance), 8 bits per channel. EXIF orientation
 * is not applied; a multi-frame file gives its first frame. Never throws for a bad file: the
 * first failing file (lowest index) comes back as `failure`.
 */
export async function decodeFiles(sharp: Sharp, task: DecodeTask): Promise<DecodeResult> {
  const { files, height, width, channels } = task;
  const pixels = height * width * channels;
  const x = new Float32Array(files.length * pixels);
  let failure: DecodeFailure | undefined;
  const fail = (f: DecodeFailure) => {
    if (failure === undefined || f.index < failure.index) failure = f;
  };
  const one = async (index: number) => {
    let bytes: Buffer;
    try {
      bytes = await readFile(files[index]!);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      fail({ index, stage: 'read', message: (error as Error).message, ...(typeof code === 'string' ? { code } : {}) });
      return;
    }
    try {
      let image = sharp(bytes, { failOn: 'warning' }).removeAlpha().resize(width, height, { fit: 'fill', kernel: 'linear' });
      image = channels === 3 ? image.toColourspace('srgb') : image.greyscale();
      const { data, info } = await image.raw().toBuffer({ resolveWithObject: true });
      if (info.width !== width || info.height !== height || info.channels !== channels || data.length !== pixels) {
        const got = `${info.width}x${info.height}x${info.channels} (${data.length} bytes)`;
        fail({ index, stage: 'decode', message: `decoded to ${got}, not ${width}x${height}x${channels} of 8 bits` });
        return;
      }
      const base = index * pixels;
      for (let k = 0; k < pixels; k++) x[base + k] = data[k]! / 255;
    } catch (error) {
      fail({ index, stage: 'decode', message: error instanceof Error ? error.message : String(error) });
    }
  };
  let next = 0;
  const lane = async () => {
    while (next < files.length && failure === undefined) await one(next++);
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, files.length) }, lane));
  return failure === undefined ? { x } : { failure };
}

let loaded: Sharp | undefined;

/**
 * The worker's task: {@link decodeFiles}, the pixels moved (transferred, not copied) back to the
 * main thread; a failure comes back as `{ failure }`.
 */
export default async function decode(task: DecodeTask): Promise<Float32Array | { failure: DecodeFailure }> {
  if (loaded === undefined) {
    const sharp = createRequire(import.meta.url)(task.sharpPath ?? 'sharp') as Sharp;
    if (task.sharpConcurrency !== undefined) sharp.concurrency(task.sharpConcurrency);
    loaded = sharp;
  }
  const result = await decodeFiles(loaded, task);
  if (result.failure) return { failure: result.failure };
  const { move } = await import('piscina');
  return move(result.x) as unknown as Float32Array;
}
