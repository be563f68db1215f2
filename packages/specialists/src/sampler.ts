import { DistillationError, type LabeledData, optionsSchema, parseOptions, SeededRandom } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { SpecialistsError } from './errors';
import { integer, openFraction, seedSchema } from './schemas';
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
  /** Indices into the training data (shuffled). */
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
 * gathered tensors. Throws `bad-subset` for a bad subset and `subset-without-examples` when the
 * labels have no example of the subset or none of the other classes.
 */
export function sampleSpecialistData(
  labels: ArrayLike<number>,
  subset: readonly number[],
  input: SpecialistSampleOptions = {},
): SpecialistSample {
  return sample(labels, subset, parseOptions(sampleSpecialistDataSchema, input, 'sampleSpecialistData'), 'sampleSpecialistData');
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
 * {@link sampleSpecialistData} on a labelled data set: returns the gathered sample with
 * specialist labels (caller disposes `data`) and the dustbin shift to apply after training.
 */
export function specialistTrainingSet(
  data: LabeledData,
  subset: readonly number[],
  options: SpecialistSampleOptions = {},
): { data: LabeledData; sample: SpecialistSample } {
  return trainingSet(data, subset, parseOptions(sampleSpecialistDataSchema, options, 'specialistTrainingSet'), 'specialistTrainingSet');
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
