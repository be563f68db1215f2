import {
  type DataSource,
  DistillationError,
  isDataSource,
  isRandomAccess,
  type LabeledData,
  optionsSchema,
  parseOptions,
  type RandomAccessSource,
  SeededRandom,
  type SourceBatch,
  subsetSource,
} from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { SpecialistsError } from './errors';
import { integer, openFraction, seedSchema } from './schemas';
import { labelsOfSource } from './sourceLabels';
import { checkSubset } from './specialist';

/** Throws core's `label-out-of-range` unless every label is an integer >= 0. */
function checkLabels(labels: ArrayLike<number>, where: string): void {
  if (labels == null || typeof labels.length !== 'number' || typeof labels === 'string') {
    throw new DistillationError(
      'bad-labels',
      `${where}: labels must be an array or typed array of class labels, got ${labels === null ? 'null' : typeof labels}`,
    );
  }
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (!Number.isInteger(l) || l < 0)
      throw new DistillationError('label-out-of-range', `${where}: label ${i} is ${l}, not an integer class >= 0`);
  }
}

/**
 * Maps generalist labels to a specialist's labels: class `subset[i]` -> `i`, every other class
 * -> `subset.length` (the dustbin).
 */
export function specialistLabels(labels: ArrayLike<number>, subset: readonly number[]): Int32Array {
  checkLabels(labels, 'specialistLabels');
  checkSubset(subset, Number.POSITIVE_INFINITY, 'specialistLabels: subset');
  const position = new Map(subset.map((k, i) => [k, i]));
  return Int32Array.from({ length: labels.length }, (_, i) => position.get(labels[i]!) ?? subset.length);
}

/**
 * The logit correction for a specialist trained on resampled data (applied with
 * `shiftDustbin`). Derivation: the sampler keeps the class-conditional inputs `p(x | a)` of every
 * specialist output `a` (subset classes keep their relative frequencies, the rest is drawn
 * uniformly) and only changes the priors: subset class k goes from `pi_k` to
 * `f * pi_k / pi_S`, the dustbin from `1 - pi_S` to `1 - f`, where `pi_S` is the subset's share
 * of the natural data and `f` the subset's share of the training sample. By Bayes' rule the
 * natural posterior is the trained one times `pi_natural(a) / pi_train(a)`, i.e. logit `a` plus
 * `log(pi_S / f)` for subset classes and `log((1 - pi_S) / (1 - f))` for the dustbin. Softmax
 * ignores a common shift, so subtracting the first leaves only the dustbin:
 *
 * `dustbin logit += log( ((1 - pi_S) / pi_S) * (f / (1 - f)) )`,
 *
 * the log of the factor by which the subset is over-sampled relative to the dustbin; with the
 * paper's half/half sampling (`f = 1/2`) this is `log((1 - pi_S) / pi_S)`, e.g. `log(7/3)` for 3
 * of 10 balanced classes. Zero when `f = pi_S` (no resampling).
 */
export function dustbinShift(subsetPrior: number, subsetFraction = 0.5): number {
  if (
    typeof subsetPrior !== 'number' ||
    typeof subsetFraction !== 'number' ||
    !(subsetPrior > 0 && subsetPrior < 1) ||
    !(subsetFraction > 0 && subsetFraction < 1)
  ) {
    throw new DistillationError(
      'bad-option',
      `dustbinShift: subsetPrior (${subsetPrior}) and subsetFraction (${subsetFraction}) must lie in (0, 1)`,
    );
  }
  return Math.log(((1 - subsetPrior) / subsetPrior) * (subsetFraction / (1 - subsetFraction)));
}

/** Options of {@link sampleSpecialistData} and {@link specialistTrainingSet}. */
export interface SpecialistSampleOptions {
  /** Number of examples to draw. Default: twice the number of subset examples (each once). */
  readonly size?: number;
  /** Share of the sample drawn from the subset's classes. Default 0.5 (the paper's half/half). */
  readonly subsetFraction?: number;
  /** Seed of the draw. Default 0. */
  readonly seed?: number;
}

/** Schema of {@link SpecialistSampleOptions} (defaults applied). */
export const sampleSpecialistDataSchema = optionsSchema<SpecialistSampleOptions>()({
  size: integer(2).optional(),
  subsetFraction: openFraction.default(0.5),
  seed: seedSchema.default(0),
});

/** Result of {@link sampleSpecialistData}. */
export interface SpecialistSample {
  /** Indices into the training data (shuffled; ascending, the stream's order, for a front-to-back source). */
  readonly indices: Int32Array;
  /** Specialist labels of those examples (dustbin = `subset.length`). */
  readonly labels: Int32Array;
  /** Share of the subset's classes in the whole training data (`pi_S`). */
  readonly subsetPrior: number;
  /** Share of the subset's classes in the sample (`f`, up to rounding). */
  readonly subsetFraction: number;
  /** `dustbinShift(subsetPrior, subsetFraction)`: add it to the dustbin logit after training. */
  readonly dustbinShift: number;
}

/** `count` draws from `pool`: without replacement while the pool lasts, then further full passes. */
function draw(pool: readonly number[], count: number, random: SeededRandom): number[] {
  const out: number[] = [];
  while (out.length < count) {
    const order = random.permutation(pool.length);
    for (let i = 0; i < order.length && out.length < count; i++) out.push(pool[order[i]!]!);
  }
  return out;
}

/**
 * The specialist's training sample (paper sect. 5.2): `subsetFraction` (half) of the examples
 * from the subset's classes, the rest drawn uniformly from the examples of all other classes,
 * whose labels map to the dustbin. Works on labels only; see {@link specialistTrainingSet} for the
 * gathered tensors (or the source). `labels` may be a `DataSource`: its declared `labels` are used
 * and nothing is read (`no-labels` when it declares none). Throws `bad-subset` for a bad subset
 * and `subset-without-examples` when the labels have no example of the subset or none of the
 * other classes.
 */
export function sampleSpecialistData(
  labels: ArrayLike<number> | DataSource,
  subset: readonly number[],
  input: SpecialistSampleOptions = {},
): SpecialistSample {
  const options = parseOptions(sampleSpecialistDataSchema, input, 'sampleSpecialistData');
  const values = isDataSource(labels) ? labelsOfSource(labels, 'sampleSpecialistData', 'argument "labels"') : labels;
  return sample(values, subset, options, 'sampleSpecialistData');
}

function sample(
  labels: ArrayLike<number>,
  subset: readonly number[],
  options: { readonly size?: number | undefined; readonly subsetFraction: number; readonly seed: number },
  where: string,
): SpecialistSample {
  checkLabels(labels, where);
  const classes = checkSubset(subset, Number.POSITIVE_INFINITY, `${where}: subset`);
  const inSubset = new Set(classes);
  const subsetPool: number[] = [];
  const restPool: number[] = [];
  for (let i = 0; i < labels.length; i++) (inSubset.has(labels[i]!) ? subsetPool : restPool).push(i);
  if (subsetPool.length === 0 || restPool.length === 0) {
    throw new SpecialistsError(
      'subset-without-examples',
      `${where}: the data has ${subsetPool.length} examples of the subset [${classes}] and ${restPool.length} of other classes; both must be non-zero`,
    );
  }
  const f = options.subsetFraction;
  const size = options.size ?? Math.max(2, Math.round(subsetPool.length / f));
  const nSubset = Math.min(size - 1, Math.max(1, Math.round(size * f)));
  const random = new SeededRandom(options.seed);
  const picked = [...draw(subsetPool, nSubset, random), ...draw(restPool, size - nSubset, random)];
  const order = random.permutation(picked.length);
  const indices = Int32Array.from(order, (o) => picked[o]!);
  const subsetPrior = subsetPool.length / labels.length;
  return {
    indices,
    labels: specialistLabels(
      Int32Array.from(indices, (i) => labels[i]!),
      classes,
    ),
    subsetPrior,
    subsetFraction: f,
    dustbinShift: dustbinShift(subsetPrior, f),
  };
}

/**
 * {@link sampleSpecialistData} on a labelled data set, with the dustbin shift to apply after
 * training.
 *
 * - `{ x, y }` tensors: returns the gathered sample as new tensors with specialist labels (the
 *   caller disposes them, and `data`).
 * - A `DataSource` (with `labels`: `no-labels` otherwise): returns a source over the sampled
 *   positions (`subsetSource` of `@kd/core`: no copy, the original ids kept, a repeated example's
 *   later ids `` `${id}#k` ``) whose labels, declared and read, are the specialist labels of
 *   `sample.labels` (drawn from the source's declared `labels`). Nothing is read here. Over a
 *   random-access source it holds the same examples in the same order as the tensors path; over a
 *   front-to-back source the sample is put in stream order (`sample.indices` ascending, the same
 *   draws), which is the only order it can be streamed in: the Distiller's shuffle buffer shuffles it.
 */
export function specialistTrainingSet(
  data: RandomAccessSource,
  subset: readonly number[],
  options?: SpecialistSampleOptions,
): { data: RandomAccessSource; sample: SpecialistSample };
export function specialistTrainingSet(
  data: DataSource,
  subset: readonly number[],
  options?: SpecialistSampleOptions,
): { data: DataSource; sample: SpecialistSample };
export function specialistTrainingSet(
  data: LabeledData,
  subset: readonly number[],
  options?: SpecialistSampleOptions,
): { data: LabeledData; sample: SpecialistSample };
export function specialistTrainingSet(
  data: LabeledData | DataSource,
  subset: readonly number[],
  options: SpecialistSampleOptions = {},
): { data: LabeledData | DataSource; sample: SpecialistSample } {
  const parsed = parseOptions(sampleSpecialistDataSchema, options, 'specialistTrainingSet');
  return isDataSource(data)
    ? sourceTrainingSet(data, subset, parsed, 'specialistTrainingSet')
    : trainingSet(data, subset, parsed, 'specialistTrainingSet');
}

/** {@link specialistTrainingSet} with parsed options (for `trainSpecialist`). */
export function trainingSet(
  data: LabeledData,
  subset: readonly number[],
  options: { readonly size?: number | undefined; readonly subsetFraction: number; readonly seed: number },
  where: string,
): { data: LabeledData; sample: SpecialistSample } {
  checkData(data, where);
  const drawn = sample(data.y.dataSync(), subset, options, where);
  const gathered = tf.tidy(() => {
    const index = tf.tensor1d(drawn.indices, 'int32');
    return {
      x: tf.gather(data.x, index),
      y: tf.tensor1d(drawn.labels, 'int32'),
      ...(data.teacherX ? { teacherX: tf.gather(data.teacherX, index) } : {}),
    };
  });
  return { data: gathered, sample: drawn };
}

/**
 * {@link specialistTrainingSet} over a source, with parsed options: the sample drawn from the
 * source's declared labels, as a source (see there). `exampleShape`, when given, is checked
 * against the source's (the specialist's input).
 */
export function sourceTrainingSet(
  source: DataSource,
  subset: readonly number[],
  options: { readonly size?: number | undefined; readonly subsetFraction: number; readonly seed: number },
  where: string,
  exampleShape?: readonly (number | null)[],
): { data: DataSource; sample: SpecialistSample } {
  const labels = labelsOfSource(source, where, 'argument "data"', exampleShape);
  const drawn = sample(labels, subset, options, where);
  const ordered = isRandomAccess(source) ? drawn : inStreamOrder(drawn);
  const picked = subsetSource(
    source,
    ordered.indices,
    `specialist sample for [${subset}] of ${source.description ?? 'a source'} (${ordered.indices.length} examples)`,
  );
  return { data: withLabels(picked, ordered.labels), sample: ordered };
}

/** The same draws sorted by position (stable), labels alongside: the order a stream gives them in. */
function inStreamOrder(drawn: SpecialistSample): SpecialistSample {
  const { indices, labels } = drawn;
  const order = Array.from(indices.keys()).sort((a, b) => indices[a]! - indices[b]! || a - b);
  return { ...drawn, indices: Int32Array.from(order, (o) => indices[o]!), labels: Int32Array.from(order, (o) => labels[o]!) };
}

/** `source` with other labels (one per position), declared and read: the specialist's labels. */
function withLabels(source: DataSource, labels: Int32Array): DataSource {
  if (isRandomAccess(source)) {
    return {
      ...source,
      labels,
      async read(positions: Int32Array): Promise<SourceBatch> {
        const batch = await source.read(positions);
        return { ...batch, y: Int32Array.from(positions, (p) => labels[p]!) };
      },
    };
  }
  return {
    ...source,
    labels,
    async *stream(): AsyncGenerator<SourceBatch> {
      let seen = 0;
      for await (const chunk of source.stream()) {
        const n = chunk.y.length;
        yield { ...chunk, y: labels.slice(seen, seen + n) };
        seen += n;
      }
    },
  };
}

/** Throws core's `bad-data` unless `data` is `{ x, y }` tensors with one label per example. */
export function checkData(data: LabeledData, where: string): void {
  const ok =
    data != null &&
    data.x instanceof tf.Tensor &&
    data.y instanceof tf.Tensor &&
    data.x.rank >= 1 &&
    data.y.rank === 1 &&
    data.y.shape[0] === data.x.shape[0] &&
    (data.teacherX === undefined || (data.teacherX instanceof tf.Tensor && data.teacherX.shape[0] === data.x.shape[0]));
  if (!ok) throw new DistillationError('bad-data', `${where}: expected { x: Tensor, y: Tensor1D } with one label per example`);
}
