import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DistillationError, ioError, optionsSchema, parseOptions, type SourceBatch, sha256Digest } from '@kd/core';
import type { Piscina } from 'piscina';
import { z } from 'zod';
import { type DecodeFailure, type DecodeResult, type DecodeTask, decodeFiles, type Sharp } from './decodeWorker';
import { DataError } from './errors';
import { integer } from './schemas';
import { checkPositions, type LabeledSource } from './sources';

const WHERE = 'imageFolder';

/** Options of {@link imageFolder}. */
export interface ImageFolderOptions {
  /**
   * Every image is resized to this: `n` for `n` x `n`, or `[height, width]`. The image is
   * stretched to exactly that size (sharp's `fit: 'fill'`, bilinear, no crop, aspect ratio not
   * kept), as torchvision's `Resize((h, w))` and Keras' `image_dataset_from_directory(image_size=...)`
   * do, so images of mixed sizes are fine. An image already that size is not resampled.
   */
  readonly size: number | readonly [height: number, width: number];
  /**
   * Channels of every example: 3 (RGB) or 1 (grey). Mixed files are converted: a greyscale file
   * gives 3 equal channels; an RGB file gives sharp's greyscale (libvips' `b-w`, the luminance
   * of the linear-light colour re-encoded with the sRGB curve: pure red 255 becomes 127, where
   * PIL's `convert('L')` gives 76; an equal R = G = B stays as it is). An alpha channel is
   * dropped, not composited. Values are the 8-bit values divided by 255, in [0, 1] (16-bit
   * files are reduced to 8 bits first).
   */
  readonly channels: 1 | 3;
  /**
   * A file that is not a decodable image. `'error'` (default): no file is opened up front; the
   * read whose batch holds a bad file throws `image-decode-failed` naming it, before that batch
   * is returned. `'skip'`: every file's header is probed (sharp's `metadata()`, no pixel
   * decoding) before the source is built; files that fail are left out of it (positions stay
   * dense, `size` counts only the rest) and listed in `skipped`. A file whose header passes but
   * whose pixels do not decode (e.g. a truncated file) still throws `image-decode-failed` when
   * read. A class all of whose files are skipped keeps its label and name, with no example.
   */
  readonly onBadFile?: 'error' | 'skip';
  /** File extensions taken as images, case-insensitive. Default `['.jpg', '.jpeg', '.png', '.webp']`. */
  readonly extensions?: readonly string[];
  /**
   * Worker threads that decode (a piscina pool, started at the first read). Default 1. A read is
   * split into up to `workers` runs of consecutive positions, one task each; each task's pixels
   * come back transferred, not copied. `0` decodes on the calling thread (sharp's async API
   * still runs off it, on libuv's thread pool): for debugging.
   */
  readonly workers?: number;
  /**
   * `sharp.concurrency(n)` (libvips threads per image) set by the workers before their first
   * image. Default 1 when `workers >= 1`: parallelism comes from decoding several files at once.
   * libvips is shared by the whole process, so this also applies to sharp used elsewhere in it.
   * Refused with `workers: 0` (set `sharp.concurrency` yourself there).
   */
  readonly sharpConcurrency?: number;
  /** Names the source in messages and prefixes the ids: `${name}:${relative path}`. Default: ids are the relative paths. */
  readonly name?: string;
}

const isSide = (v: unknown) => Number.isInteger(v) && (v as number) >= 1;

/** Schema of {@link ImageFolderOptions} (defaults applied). */
export const imageFolderSchema = optionsSchema<ImageFolderOptions>()({
  size: z.custom<number | readonly [number, number]>((v) => isSide(v) || (Array.isArray(v) && v.length === 2 && v.every(isSide)), {
    message: 'must be a positive integer or [height, width] of positive integers',
  }),
  channels: z.union([z.literal(1), z.literal(3)], { message: 'must be 1 or 3' }),
  onBadFile: z.enum(['error', 'skip']).default('error'),
  extensions: z
    .array(z.string().regex(/^\.[^./\\]+$/, { message: 'must be an extension with its dot, like ".png"' }), {
      message: 'must be a list of extensions like ".png"',
    })
    .min(1)
    .default(['.jpg', '.jpeg', '.png', '.webp']),
  workers: integer(0).default(1),
  sharpConcurrency: integer(1).optional(),
  name: z.string({ message: 'must be a non-empty string' }).min(1, { message: 'must be a non-empty string' }).optional(),
});

/** A file `onBadFile: 'skip'` left out, and why. */
export interface SkippedFile {
  /** Path relative to the root, `/`-separated (e.g. `cat/003.png`). */
  readonly file: string;
  /** sharp's (or the file system's) message. */
  readonly reason: string;
}

/** What {@link imageFolder} returns: a source of decoded images with labels from the folder names. */
export interface ImageFolderSource extends LabeledSource {
  /** `[height, width, channels]`. */
  readonly exampleShape: readonly [number, number, number];
  /** The class folder names, by label (code-point order). */
  readonly classNames: readonly string[];
  /** Each position's file, relative to the root, `/`-separated (`cat/001.png`). */
  readonly files: readonly string[];
  /** The files `onBadFile: 'skip'` left out (empty otherwise). */
  readonly skipped: readonly SkippedFile[];
  /** `n` images `[h, w, c]` in one Float32Array (NHWC, [0, 1]), their labels and ids. */
  read(positions: Int32Array): Promise<SourceBatch>;
  /** Stops the worker pool (after the reads in flight); a later read starts a new one. */
  close(): Promise<void>;
}

/** Code-point order (UTF-8 bytes compare in code-point order; `<` on strings compares UTF-16 units). */
function compareCodePoints(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function loadSharp(): { sharp: Sharp; path: string } {
  const require = createRequire(import.meta.url);
  try {
    const path = require.resolve('sharp');
    return { sharp: require(path) as Sharp, path };
  } catch (error) {
    throw new DataError(
      'sharp-not-installed',
      `${WHERE}: decoding images needs the npm package "sharp", an optional peer dependency of @kd/data: npm i sharp (${(error as Error).message})`,
      { cause: error },
    );
  }
}

/** Whether an entry is a directory or a file, following symbolic links (a broken link is neither). */
async function kindOf(path: string, entry: { isDirectory(): boolean; isFile(): boolean; isSymbolicLink(): boolean }) {
  if (!entry.isSymbolicLink()) return entry.isDirectory() ? 'directory' : entry.isFile() ? 'file' : 'other';
  try {
    const s = await stat(path);
    return s.isDirectory() ? 'directory' : s.isFile() ? 'file' : 'other';
  } catch {
    return 'other';
  }
}

async function list(directory: string) {
  try {
    return await readdir(directory, { withFileTypes: true });
  } catch (error) {
    throw ioError('list image folder', directory, error);
  }
}

/** The image files under one class folder (recursively, hidden entries skipped), relative to it; other files counted by extension. */
async function imagesUnder(folder: string, extensions: ReadonlySet<string>, ignored: Map<string, number>): Promise<string[]> {
  const found: string[] = [];
  const seen = new Set<string>();
  const walk = async (directory: string, prefix: string) => {
    const real = await realpath(directory).catch(() => directory);
    if (seen.has(real)) return; // a symbolic link back up the tree
    seen.add(real);
    for (const entry of await list(directory)) {
      if (entry.name.startsWith('.')) continue;
      const path = join(directory, entry.name);
      const kind = await kindOf(path, entry);
      if (kind === 'directory') await walk(path, `${prefix}${entry.name}/`);
      else if (kind === 'file') {
        const ext = extname(entry.name).toLowerCase();
        if (extensions.has(ext)) found.push(`${prefix}${entry.name}`);
        else ignored.set(ext || '(none)', (ignored.get(ext || '(none)') ?? 0) + 1);
      }
    }
  };
  await walk(folder, '');
  return found.sort(compareCodePoints);
}

function describeIgnored(ignored: Map<string, number>): string {
  if (ignored.size === 0) return 'no other file';
  const parts = [...ignored].sort((a, b) => b[1] - a[1]).map(([ext, n]) => `${n} ${ext}`);
  return `other files ignored: ${parts.slice(0, 5).join(', ')}${parts.length > 5 ? ', ...' : ''}`;
}

/** Runs `fn` on every item, at most `limit` at a time. */
async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

let sourceWorker: string | undefined;

/**
 * The worker file next to this module: `decodeWorker.js` / `.cjs` in `dist/` (tsup builds it as
 * its own entry). Run from the TypeScript sources (this repository's tests alias `@kd/data/node`
 * to `src/`), worker threads cannot load `.ts`: the worker is then bundled once with esbuild (a
 * devDependency of the repository, never of the package) next to the sources' node_modules.
 */
function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  const ext = extname(here);
  if (ext !== '.ts') {
    const built = join(dirname(here), `decodeWorker${ext}`);
    if (!existsSync(built))
      throw new DataError('image-worker-failed', `${WHERE}: the decode worker ${built} is missing from the package build`);
    return built;
  }
  if (sourceWorker === undefined) {
    const entry = join(dirname(here), 'decodeWorker.ts');
    const esbuild = createRequire(here)('esbuild') as typeof import('esbuild');
    const { outputFiles } = esbuild.buildSync({
      entryPoints: [entry],
      bundle: true,
      packages: 'external',
      platform: 'node',
      format: 'esm',
      write: false,
    });
    const code = outputFiles[0]!.text;
    const out = resolve(dirname(here), '..', 'node_modules', '.cache', 'kd-data');
    mkdirSync(out, { recursive: true });
    const file = join(out, `decodeWorker-${hash(code)}.mjs`);
    if (!existsSync(file) || readFileSync(file, 'utf8') !== code) {
      const temporary = `${file}.${process.pid}.tmp`;
      writeFileSync(temporary, code);
      renameSync(temporary, file);
    }
    sourceWorker = file;
  }
  return sourceWorker;
}

function hash(text: string): string {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
  return h.toString(16);
}

/**
 * The images of a folder with one sub-folder per class (torchvision's `ImageFolder`, Keras'
 * `image_dataset_from_directory`) as a source for `Distiller.fit`, validation and `evaluateModel`:
 *
 * ```text
 * root/cat/001.png   -> label 0 ("cat"), id "cat/001.png"
 * root/cat/x/02.jpg  -> label 0, id "cat/x/02.jpg" (sub-folders of a class belong to it)
 * root/dog/001.webp  -> label 1 ("dog")
 * ```
 *
 * Classes are the sub-folders of `root` in code-point order (`classNames`); an example's label is
 * its folder's index. Positions run class by class, and inside a class by relative path in
 * code-point order (`files`). Files whose extension is not in `extensions`, and hidden files and
 * folders (names starting with `.`), are ignored; symbolic links are followed. All N `labels`
 * are known from the listing, without decoding.
 *
 * `read(positions)` decodes the files at `positions` (any order, repeats allowed) with sharp into
 * x, `n` images `[height, width, channels]` (NHWC) in [0, 1], see {@link ImageFolderOptions} for
 * resizing and channel conversion, off the main thread in a piscina pool (`workers`). ids are the
 * relative paths (`cat/001.png`), or `${name}:cat/001.png`: stable across subsets, reruns and
 * skipped files. Call `close()` when done to stop the workers (an idle pool does not keep the
 * process alive either).
 *
 * Checked before any decoding: options (`unknown-option`, `bad-option`), sharp installed
 * (`sharp-not-installed`), root readable (`io-error`) and a directory (`image-root-not-directory`),
 * class folders present (`image-no-classes`), not two names equal after Unicode normalisation
 * (`image-duplicate-class`), some image at all (`image-no-images`) and in every class
 * (`image-empty-class`, naming them). At read time a file that does not decode throws
 * `image-decode-failed` naming it (relative and absolute path) and one that cannot be read
 * `io-error`, before the batch is returned.
 *
 * @example
 * ```ts
 * const train = await imageFolder('data/train', { size: 32, channels: 3 });
 * await distiller.fit(train, { epochs: 10, batchSize: 64 });
 * await train.close();
 * ```
 */
export async function imageFolder(root: string, options: ImageFolderOptions): Promise<ImageFolderSource> {
  if (typeof root !== 'string' || root === '') {
    throw new DistillationError(
      'bad-option',
      `${WHERE}: root must be a non-empty path string, got ${typeof root === 'string' ? "''" : String(root)}`,
    );
  }
  const {
    size: imageSize,
    channels,
    onBadFile,
    extensions,
    workers,
    sharpConcurrency,
    name,
  } = parseOptions(imageFolderSchema, options, WHERE);
  if (workers === 0 && sharpConcurrency !== undefined) {
    throw new DistillationError(
      'bad-option',
      `${WHERE}: option "sharpConcurrency" applies to the workers, and workers is 0; call sharp.concurrency(${sharpConcurrency}) yourself`,
    );
  }
  const [height, width] = typeof imageSize === 'number' ? [imageSize, imageSize] : imageSize;
  const { sharp, path: sharpPath } = loadSharp();

  let rootStat: Awaited<ReturnType<typeof stat>>;
  try {
    rootStat = await stat(root);
  } catch (error) {
    throw ioError('open image folder', root, error);
  }
  if (!rootStat.isDirectory()) {
    throw new DataError('image-root-not-directory', `${WHERE}: root "${root}" is not a directory (one sub-folder per class expected)`);
  }
  const extensionSet = new Set(extensions.map((e) => e.toLowerCase()));
  const ignored = new Map<string, number>();
  const classNames: string[] = [];
  let looseImages = 0;
  for (const entry of await list(root)) {
    if (entry.name.startsWith('.')) continue;
    const kind = await kindOf(join(root, entry.name), entry);
    if (kind === 'directory') classNames.push(entry.name);
    else if (kind === 'file' && extensionSet.has(extname(entry.name).toLowerCase())) looseImages++;
  }
  classNames.sort(compareCodePoints);
  if (classNames.length === 0) {
    throw new DataError(
      'image-no-classes',
      `${WHERE}: root "${root}" has no class sub-folder; images go in one folder per class (${root}/cat/001.png, ${root}/dog/001.png)` +
        (looseImages > 0 ? `, and ${looseImages} image file${looseImages > 1 ? 's lie' : ' lies'} directly in the root` : ''),
    );
  }
  const normalised = new Map<string, string>();
  for (const c of classNames) {
    const other = normalised.get(c.normalize('NFC'));
    if (other !== undefined) {
      throw new DataError(
        'image-duplicate-class',
        `${WHERE}: class folders "${other}" and "${c}" in "${root}" have the same name in different Unicode normalisation forms (${JSON.stringify(other)} vs ${JSON.stringify(c)}); rename one`,
      );
    }
    normalised.set(c.normalize('NFC'), c);
  }
  const perClass = await Promise.all(classNames.map((c) => imagesUnder(join(root, c), extensionSet, ignored)));
  const total = perClass.reduce((n, f) => n + f.length, 0);
  const wanted = [...extensionSet].join(', ');
  if (total === 0) {
    throw new DataError(
      'image-no-images',
      `${WHERE}: no image file (${wanted}) in the ${classNames.length} class folder${classNames.length > 1 ? 's' : ''} of "${root}" (${classNames.slice(0, 5).join(', ')}${classNames.length > 5 ? ', ...' : ''}); ${describeIgnored(ignored)}`,
    );
  }
  const empty = classNames.filter((_, k) => perClass[k]!.length === 0);
  if (empty.length > 0) {
    throw new DataError(
      'image-empty-class',
      `${WHERE}: class folder${empty.length > 1 ? 's' : ''} ${empty.map((c) => `"${c}"`).join(', ')} in "${root}" ${empty.length > 1 ? 'hold' : 'holds'} no image file (${wanted}); remove ${empty.length > 1 ? 'them' : 'it'} or add images`,
    );
  }

  let files = perClass.flatMap((list, k) => list.map((f) => `${classNames[k]}/${f}`));
  let labels = Int32Array.from(perClass.flatMap((list, k) => list.map(() => k)));
  const skipped: SkippedFile[] = [];
  if (onBadFile === 'skip') {
    const bad = new Array<string | undefined>(files.length);
    await forEachLimited(files, 16, async (file, i) => {
      try {
        await sharp(join(root, file)).metadata();
      } catch (error) {
        bad[i] = error instanceof Error ? error.message : String(error);
      }
    });
    const keep = files.map((_, i) => bad[i] === undefined);
    files.forEach((file, i) => {
      if (!keep[i]) skipped.push({ file, reason: bad[i]! });
    });
    if (skipped.length === files.length) {
      throw new DataError(
        'image-all-skipped',
        `${WHERE}: every one of the ${files.length} image files in "${root}" failed the header probe (onBadFile 'skip'), e.g. ${skipped[0]!.file}: ${skipped[0]!.reason}`,
      );
    }
    labels = labels.filter((_, i) => keep[i]);
    files = files.filter((_, i) => keep[i]);
  }
  const size = files.length;
  const absolute = files.map((f) => resolve(root, f));
  const description = `image folder "${name ?? root}"`;

  // One pool, started by the first read: the promise is kept, so the chunks of that read (which
  // ask for it together) share it.
  let pool: Promise<Piscina> | undefined;
  const startPool = (): Promise<Piscina> => {
    pool ??= import('piscina').then(({ Piscina }) => {
      try {
        return new Piscina({ filename: workerFile(), minThreads: 0, maxThreads: workers, idleTimeout: 10_000 });
      } catch (error) {
        if (error instanceof DistillationError) throw error;
        throw new DataError('image-worker-failed', `${WHERE}: cannot start the decode workers: ${(error as Error).message}`, {
          cause: error,
        });
      }
    });
    pool.catch(() => {
      pool = undefined;
    });
    return pool;
  };

  const decodeChunk = async (chunk: Int32Array): Promise<DecodeResult> => {
    const task: DecodeTask = {
      files: Array.from(chunk, (p) => absolute[p]!),
      height,
      width,
      channels,
      sharpPath,
      sharpConcurrency: sharpConcurrency ?? 1,
    };
    if (workers === 0) return decodeFiles(sharp, task);
    const running = await startPool();
    let result: Float32Array | { failure: DecodeFailure };
    try {
      result = await running.run(task);
    } catch (error) {
      throw new DataError('image-worker-failed', `${WHERE}: a decode worker failed: ${(error as Error).message}`, { cause: error });
    }
    return result instanceof Float32Array ? { x: result } : result;
  };

  const fileError = (position: number, failure: DecodeFailure): Error => {
    const file = files[position]!;
    const path = absolute[position]!;
    if (failure.stage === 'read') {
      return ioError(`read ${file} of ${description} at`, path, Object.assign(new Error(failure.message), { code: failure.code }));
    }
    return new DataError(
      'image-decode-failed',
      `${WHERE}: ${file} (${path}) in ${description} does not decode: ${failure.message}` +
        (onBadFile === 'skip' ? ' (it passed the header probe of onBadFile "skip")' : ''),
      { cause: new Error(failure.message) },
    );
  };

  const pixels = height * width * channels;
  return {
    kind: 'kd-source',
    size,
    exampleShape: [height, width, channels],
    labels,
    numClasses: classNames.length,
    classNames,
    files,
    skipped,
    description,
    fingerprint: () => folderFingerprint(absolute, files, labels, { height, width, channels, classNames, name }),
    async read(positions) {
      checkPositions(positions, size, WHERE);
      const n = positions.length;
      const parts = Math.max(1, Math.min(workers, n));
      const step = Math.ceil(n / parts);
      const chunks: Int32Array[] = [];
      for (let start = 0; start < n; start += step) chunks.push(positions.subarray(start, Math.min(n, start + step)));
      // Every chunk settles before the read returns or throws: no decoding outlives its read.
      const settled = n === 0 ? [] : await Promise.allSettled(chunks.map(decodeChunk));
      const rejected = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (rejected) throw rejected.reason;
      const results = settled.map((r) => (r as PromiseFulfilledResult<DecodeResult>).value);
      for (let c = 0; c < results.length; c++) {
        const failure = results[c]!.failure;
        if (failure) throw fileError(positions[c * step + failure.index]!, failure);
      }
      let x: Float32Array;
      if (results.length === 1) x = results[0]!.x!;
      else if (results.length === 0) x = new Float32Array(0);
      else {
        x = new Float32Array(n * pixels);
        results.forEach((r, c) => x.set(r.x!, c * step * pixels));
      }
      return {
        x,
        y: Int32Array.from(positions, (p) => labels[p]!),
        ids: Array.from(positions, (p) => (name === undefined ? files[p]! : `${name}:${files[p]}`)),
      };
    },
    async close() {
      const running = pool;
      pool = undefined;
      await (await running?.catch(() => undefined))?.close();
    },
  };
}

/**
 * The content fingerprint of an image folder without decoding it: SHA-256 over the decode
 * settings (size, channels), the class names, the id prefix (`name`), and each file's path (relative to the root), label,
 * byte size and modification time. A file replaced, touched, added, removed or moved to another
 * class changes it; a file rewritten with the same bytes but a new mtime changes it too (it errs on
 * the side of recomputing).
 */
async function folderFingerprint(
  absolute: readonly string[],
  files: readonly string[],
  labels: Int32Array,
  settings: { height: number; width: number; channels: number; classNames: readonly string[]; name: string | undefined },
): Promise<string> {
  const stats = new Array<string>(files.length);
  await forEachLimited(files, 16, async (file, i) => {
    const s = await stat(absolute[i]!).catch((error: NodeJS.ErrnoException) => {
      throw ioError(`fingerprint ${file} of the image folder at`, absolute[i]!, error);
    });
    stats[i] = `${JSON.stringify(file)}\t${labels[i]}\t${s.size}\t${s.mtimeMs}\n`;
  });
  const digest = sha256Digest().update(
    `kd-image-folder/v1\n${settings.height}x${settings.width}x${settings.channels}\n${JSON.stringify(settings.classNames)}\n${JSON.stringify(settings.name ?? null)}\n`,
  );
  for (const line of stats) digest.update(line);
  return digest.hex();
}
