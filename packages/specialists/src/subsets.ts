import { type DataSource, DistillationError, isDataSource, optionsSchema, parseOptions, SeededRandom } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { SpecialistsError } from './errors';
import { integer, labelsSchema, seedSchema } from './schemas';
import { labelsOfSource } from './sourceLabels';

/** How {@link confusableSubsets} measures which classes go together. */
export type SubsetMethod = 'kmeans' | 'confusion';

/** Options of {@link confusableSubsets}. */
export interface ConfusableSubsetsOptions {
  /**
   * Number of K-means clusters. An array runs one clustering per entry and returns the distinct
   * subsets of all of them: overlapping subsets, so a class can be covered by several specialists
   * (the paper's Table 4 counts examples by how many specialists cover their class).
   */
  readonly clusters: number | readonly number[];
  /**
   * `'kmeans'` (default, the paper's sect. 5.2 method, no labels): K-means on the columns of the
   * covariance matrix of the generalist's predicted probabilities. `'confusion'`: K-means on the
   * columns of the symmetrised soft confusion matrix (needs `labels`), the alternative the paper
   * mentions and sets aside ("we could have computed the confusion matrix ... we opted for a
   * simpler approach that does not require the true labels").
   */
  readonly method?: SubsetMethod;
  /**
   * True class of every row of `generalistProbs`; required by `method: 'confusion'`. May be the
   * `DataSource` the predictions were made on (e.g. by {@link generalistProbabilities}): its
   * declared `labels` are used, nothing is read (`no-labels` when it declares none).
   */
  readonly labels?: ArrayLike<number> | tf.Tensor1D | DataSource;
  /** Seed of the k-means++ initialisation. Default 0. */
  readonly seed?: number;
  /** K-means restarts per clustering; the one with the lowest inertia wins. Default 10. */
  readonly restarts?: number;
  /** Lloyd iterations per restart (stops earlier when the assignment is stable). Default 100. */
  readonly iterations?: number;
  /** Drop subsets with fewer classes (e.g. 2: no single-class specialists). Default 1. */
  readonly minSize?: number;
  /** Drop subsets with more classes. Default: number of classes - 1 (a specialist needs a dustbin). */
  readonly maxSize?: number;
}

/** Schema of {@link ConfusableSubsetsOptions} (defaults applied). */
export const confusableSubsetsSchema = optionsSchema<ConfusableSubsetsOptions>()({
  clusters: z.union([integer(1), z.array(integer(1)).min(1)]),
  method: z.enum(['kmeans', 'confusion']).default('kmeans'),
  labels: labelsSchema.optional(),
  seed: seedSchema.default(0),
  restarts: integer(1).default(10),
  iterations: integer(1).default(100),
  minSize: integer(1).default(1),
  maxSize: integer(1).optional(),
});

/**
 * Finds groups of classes that the generalist confuses (Hinton, Vinyals, Dean 2015, sect. 5.2):
 * the covariance matrix of its predicted probabilities `[N, C]` (columns = classes), then
 * K-means (k-means++ initialisation, seeded, best of `restarts`) on the columns of that matrix.
 * Classes that tend to be predicted together get similar columns and land in the same cluster.
 * No labels are needed. `method: 'confusion'` clusters the symmetrised confusion matrix instead.
 *
 * Returns the subsets as sorted class-index arrays, distinct, in the order of `clusters` and
 * within one clustering by their smallest class.
 *
 * Throws `bad-probabilities` unless the predictions are `[N, C]` finite numbers,
 * `too-few-predictions` below 2 rows, `label-count-mismatch` / core's `label-out-of-range` for bad
 * `labels`, and core's `bad-option` for more clusters than classes or `minSize > maxSize`.
 */
export function confusableSubsets(
  generalistProbs: tf.Tensor2D | readonly (readonly number[])[],
  input: ConfusableSubsetsOptions,
): number[][] {
  const options = parseOptions(confusableSubsetsSchema, input, 'confusableSubsets');
  const { method } = options;
  const { rows, n, c } = toMatrix(generalistProbs);
  const clusterList = typeof options.clusters === 'number' ? [options.clusters] : [...options.clusters];
  for (const [i, k] of clusterList.entries()) {
    if (k > c) {
      const at = typeof options.clusters === 'number' ? 'clusters' : `clusters[${i}]`;
      throw new DistillationError(
        'bad-option',
        `confusableSubsets: option "${at}" must be an integer in [1, ${c}] (the number of classes), got ${k}`,
      );
    }
  }
  const minSize = options.minSize;
  const maxSize = options.maxSize ?? c - 1;
  if (minSize > maxSize) {
    throw new DistillationError(
      'bad-option',
      `confusableSubsets: option "minSize" (${minSize}) is larger than maxSize (${maxSize}); no subset could pass`,
    );
  }
  if (n < 2) throw new SpecialistsError('too-few-predictions', `confusableSubsets: need at least 2 predictions, got ${n}`);
  let points: Float64Array[];
  if (method === 'kmeans') {
    points = covarianceColumns(rows, n, c);
  } else {
    if (options.labels == null) {
      throw new DistillationError('bad-option', 'confusableSubsets: method \'confusion\' needs the true labels (option "labels")');
    }
    points = confusionColumns(rows, n, c, toLabels(options.labels, n, c));
  }
  const random = new SeededRandom(options.seed);
  const seen = new Set<string>();
  const out: number[][] = [];
  for (const k of clusterList) {
    const assignment = kMeans(points, k, random, options.restarts, options.iterations).assignment;
    const groups: number[][] = Array.from({ length: k }, () => []);
    assignment.forEach((cluster, cls) => groups[cluster]!.push(cls));
    groups.sort((a, b) => (a[0] ?? Infinity) - (b[0] ?? Infinity));
    for (const g of groups) {
      const key = g.join(',');
      if (g.length < minSize || g.length > maxSize || seen.has(key)) continue;
      seen.add(key);
      out.push(g);
    }
  }
  return out;
}

/** Result of {@link kMeans}. */
export interface KMeansResult {
  /** Cluster of every point. */
  readonly assignment: Int32Array;
  /** Cluster centres. */
  readonly centroids: Float64Array[];
  /** Sum of squared distances of the points to their centres. */
  readonly inertia: number;
}

/**
 * Lloyd's K-means with k-means++ initialisation (Arthur & Vassilvitskii 2007), best of
 * `restarts` runs by inertia. An empty cluster is re-seeded with the point farthest from its
 * centre. Deterministic for a given `random` state. Throws `bad-points` for no points or points
 * of different lengths, core's `bad-option` for a bad `k` (or more clusters than points),
 * `restarts`, `iterations` or `random`.
 */
export function kMeans(points: readonly Float64Array[], k: number, random: SeededRandom, restarts = 10, iterations = 100): KMeansResult {
  if (!Array.isArray(points) || points.length === 0) {
    throw new SpecialistsError(
      'bad-points',
      `kMeans: points must be a non-empty array of Float64Arrays, got ${Array.isArray(points) ? 'none' : typeof points}`,
    );
  }
  const dim = points[0]?.length;
  points.forEach((p, i) => {
    if (!(p instanceof Float64Array) || p.length !== dim || !p.every(Number.isFinite)) {
      throw new SpecialistsError('bad-points', `kMeans: point ${i} is not a Float64Array of ${dim} finite numbers like point 0`);
    }
  });
  if (!Number.isInteger(k) || k < 1) throw new DistillationError('bad-option', `kMeans: k must be an integer >= 1, got ${k}`);
  if (points.length < k) throw new DistillationError('bad-option', `kMeans: ${points.length} points for ${k} clusters`);
  for (const [what, v] of [
    ['restarts', restarts],
    ['iterations', iterations],
  ] as const) {
    if (!Number.isInteger(v) || v < 0) throw new DistillationError('bad-option', `kMeans: ${what} must be an integer >= 0, got ${v}`);
  }
  if (random === null || typeof random !== 'object' || typeof random.next !== 'function' || typeof random.int !== 'function') {
    throw new DistillationError('bad-option', `kMeans: random must be a SeededRandom, got ${String(random)}`);
  }
  let best: KMeansResult | undefined;
  for (let r = 0; r < Math.max(1, restarts); r++) {
    const result = lloyd(points, kMeansPlusPlus(points, k, random), iterations);
    if (!best || result.inertia < best.inertia - 1e-12) best = result;
  }
  return best!;
}

function squaredDistance(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    s += d * d;
  }
  return s;
}

function kMeansPlusPlus(points: readonly Float64Array[], k: number, random: SeededRandom): Float64Array[] {
  const centroids = [Float64Array.from(points[random.int(points.length)]!)];
  const d2 = points.map((p) => squaredDistance(p, centroids[0]!));
  while (centroids.length < k) {
    const total = d2.reduce((a, b) => a + b, 0);
    let pick = 0;
    if (total > 0) {
      let u = random.next() * total;
      for (pick = 0; pick < points.length - 1; pick++) {
        u -= d2[pick]!;
        if (u < 0 && d2[pick]! > 0) break;
      }
      if (d2[pick] === 0) pick = d2.indexOf(Math.max(...d2));
    } else {
      pick = random.int(points.length);
    }
    const centre = Float64Array.from(points[pick]!);
    centroids.push(centre);
    points.forEach((p, i) => {
      d2[i] = Math.min(d2[i]!, squaredDistance(p, centre));
    });
  }
  return centroids;
}

function lloyd(points: readonly Float64Array[], centroids: Float64Array[], iterations: number): KMeansResult {
  const n = points.length;
  const k = centroids.length;
  const dim = points[0]!.length;
  const assignment = new Int32Array(n).fill(-1);
  for (let it = 0; it < iterations; it++) {
    let changed = false;
    for (let i = 0; i < n; i++) {
      let bestJ = 0;
      let bestD = Infinity;
      for (let j = 0; j < k; j++) {
        const d = squaredDistance(points[i]!, centroids[j]!);
        if (d < bestD) {
          bestD = d;
          bestJ = j;
        }
      }
      if (assignment[i] !== bestJ) {
        assignment[i] = bestJ;
        changed = true;
      }
    }
    // Re-seed empty clusters with the point farthest from its centre.
    const counts = new Int32Array(k);
    for (let i = 0; i < n; i++) counts[assignment[i]!]!++;
    for (let j = 0; j < k; j++) {
      if (counts[j]! > 0) continue;
      let far = 0;
      let farD = -1;
      for (let i = 0; i < n; i++) {
        if (counts[assignment[i]!]! <= 1) continue;
        const d = squaredDistance(points[i]!, centroids[assignment[i]!]!);
        if (d > farD) {
          farD = d;
          far = i;
        }
      }
      counts[assignment[far]!]!--;
      assignment[far] = j;
      counts[j] = 1;
      changed = true;
    }
    for (let j = 0; j < k; j++) centroids[j] = new Float64Array(dim);
    for (let i = 0; i < n; i++) {
      const c = centroids[assignment[i]!]!;
      const p = points[i]!;
      for (let d = 0; d < dim; d++) c[d]! += p[d]! / counts[assignment[i]!]!;
    }
    if (!changed) break;
  }
  let inertia = 0;
  for (let i = 0; i < n; i++) inertia += squaredDistance(points[i]!, centroids[assignment[i]!]!);
  return { assignment, centroids, inertia };
}

function toMatrix(probs: tf.Tensor2D | readonly (readonly number[])[]): { rows: Float64Array; n: number; c: number } {
  let rows: Float64Array;
  let n: number;
  let c: number;
  if (probs instanceof tf.Tensor) {
    if (probs.rank !== 2) {
      throw new SpecialistsError('bad-probabilities', `confusableSubsets: expected probabilities [N, classes], got shape [${probs.shape}]`);
    }
    [n, c] = probs.shape;
    rows = Float64Array.from(probs.dataSync());
  } else {
    if (!Array.isArray(probs)) {
      throw new SpecialistsError(
        'bad-probabilities',
        `confusableSubsets: expected a [N, classes] tensor or an array of rows, got ${probs === null ? 'null' : typeof probs}`,
      );
    }
    n = probs.length;
    c = (probs[0] as ArrayLike<number> | undefined)?.length ?? 0;
    rows = new Float64Array(n * c);
    probs.forEach((row: ArrayLike<number>, i: number) => {
      if (row == null || typeof row.length !== 'number' || row.length !== c) {
        throw new SpecialistsError('bad-probabilities', `confusableSubsets: row ${i} has ${row?.length ?? 'no'} classes, row 0 ${c}`);
      }
      rows.set(row, i * c);
    });
  }
  if (c < 1) throw new SpecialistsError('bad-probabilities', 'confusableSubsets: the predictions have no class column');
  const bad = rows.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new SpecialistsError(
      'bad-probabilities',
      `confusableSubsets: prediction [${Math.floor(bad / c)}, ${bad % c}] is ${rows[bad]}, not a finite number`,
    );
  }
  return { rows, n, c };
}

function toLabels(labels: ArrayLike<number> | tf.Tensor1D | DataSource, n: number, c: number): Int32Array {
  const values = isDataSource(labels)
    ? labelsOfSource(labels, 'confusableSubsets', 'option "labels"')
    : labels instanceof tf.Tensor
      ? labels.dataSync()
      : labels;
  if (values.length !== n)
    throw new SpecialistsError('label-count-mismatch', `confusableSubsets: ${values.length} labels for ${n} predictions`);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const l = Number(values[i]);
    if (!Number.isInteger(l) || l < 0 || l >= c) {
      throw new DistillationError('label-out-of-range', `confusableSubsets: label ${i} = ${values[i]} is not a class in [0, ${c})`);
    }
    out[i] = l;
  }
  return out;
}

/** Columns of the (N - 1)-normalised covariance matrix of the probabilities. */
export function covarianceColumns(rows: Float64Array, n: number, c: number): Float64Array[] {
  const mean = new Float64Array(c);
  for (let i = 0; i < n; i++) for (let j = 0; j < c; j++) mean[j]! += rows[i * c + j]! / n;
  const cov = Array.from({ length: c }, () => new Float64Array(c));
  const centred = new Float64Array(c);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < c; j++) centred[j] = rows[i * c + j]! - mean[j]!;
    for (let a = 0; a < c; a++) {
      const ca = centred[a]!;
      const col = cov[a]!;
      for (let b = 0; b < c; b++) col[b]! += (ca * centred[b]!) / (n - 1);
    }
  }
  return cov;
}

/**
 * Columns of the symmetrised soft confusion matrix: `M[i][j]` = mean predicted probability of
 * class j over the examples of true class i, `A = (M + M^T) / 2`. The diagonal says how often a
 * class is right, not whom it is confused with, so it is replaced by the column's off-diagonal
 * sum: two classes confused only with each other then get identical columns, and classes that are
 * rarely confused sit near the origin together.
 */
export function confusionColumns(rows: Float64Array, n: number, c: number, labels: Int32Array): Float64Array[] {
  const m = Array.from({ length: c }, () => new Float64Array(c));
  const counts = new Float64Array(c);
  for (let i = 0; i < n; i++) {
    const l = labels[i]!;
    counts[l]!++;
    for (let j = 0; j < c; j++) m[l]![j]! += rows[i * c + j]!;
  }
  for (let a = 0; a < c; a++) for (let b = 0; b < c; b++) m[a]![b]! /= Math.max(1, counts[a]!);
  return Array.from({ length: c }, (_, b) => {
    const col = Float64Array.from({ length: c }, (_, a) => (a === b ? 0 : (m[a]![b]! + m[b]![a]!) / 2));
    col[b] = col.reduce((sum, v) => sum + v, 0);
    return col;
  });
}
