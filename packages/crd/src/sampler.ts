import { DistillationError, optionsSchema, parseOptions, type SeededRandom } from '@kd/core';
import { z } from 'zod';
import { CrdError } from './errors';
import { positiveInt, positiveSchema } from './options';

/** How the positive of each anchor is chosen (RepDistiller `--mode`). */
export type PositiveMode = 'exact' | 'relax';

/** Options of {@link NegativeSampler}. */
export interface NegativeSamplerOptions {
  /** N, the number of training examples. */
  readonly dataSize: number;
  /** K, negatives per anchor (`nce_k`); must be < N. */
  readonly negatives: number;
  /**
   * Class labels `[N]` of the training data. When given (and `classAware` is not false) the
   * negatives of an anchor of class c are drawn from the examples of the OTHER classes, as the
   * reference data loader does.
   */
  readonly labels?: Int32Array;
  /** Draw negatives from other classes when labels are known. Default true. */
  readonly classAware?: boolean;
  /**
   * `'exact'` (default): the positive is the example itself. `'relax'`: a random example of the
   * same class (needs labels). The memory bank is always updated at the example's own index.
   */
  readonly positive?: PositiveMode;
}

/** Schema of {@link NegativeSamplerOptions} (defaults applied). */
export const negativeSamplerSchema = optionsSchema<NegativeSamplerOptions>()({
  dataSize: z
    .number({ message: 'must be an integer > 1' })
    .int({ message: 'must be an integer > 1' })
    .min(2, { message: 'must be an integer > 1' }),
  negatives: positiveInt(),
  labels: z.instanceof(Int32Array, { message: 'must be an Int32Array of class indices' }).optional(),
  classAware: z.boolean({ message: 'must be a boolean' }).default(true),
  positive: positiveSchema.default('exact'),
});

/** Contrast indices for one batch, reference layout: row b is `[positive_b, K negatives of b]`. */
export interface ContrastIndices {
  readonly kind: 'per-anchor';
  /** The examples' own indices `[B]` (bank-update rows). */
  readonly index: Int32Array;
  /** `[B * (K + 1)]`, row-major `[B, K + 1]`, positive first. */
  readonly contrast: Int32Array;
  readonly negatives: number;
}

/** Contrast indices for one batch, shared variant: one set of K negatives for the whole batch. */
export interface SharedContrastIndices {
  readonly kind: 'shared';
  /** The examples' own indices `[B]` (bank-update rows). */
  readonly index: Int32Array;
  /** Positive row of each anchor `[B]` (= `index` in exact mode). */
  readonly positives: Int32Array;
  /** `[K]` negatives shared by every anchor of the batch. */
  readonly shared: Int32Array;
  readonly negatives: number;
}

/** What the CRD critic scores: per-anchor (reference) or shared negatives. */
export type ContrastSample = ContrastIndices | SharedContrastIndices;

/**
 * Draws CRD's contrast indices with the run's seeded random source.
 *
 * Reference sampling (RepDistiller `CIFAR100InstanceSample`): for an anchor of class c, K negatives
 * uniformly WITHOUT replacement from the examples of the other classes (with replacement only when
 * fewer than K exist); positive = the example (`exact`) or a random same-class example (`relax`).
 * Without labels (or `classAware: false`) negatives are drawn uniformly without replacement from the
 * other N - 1 examples.
 *
 * Shared variant ({@link sampleShared}): one set of K distinct negatives per batch, uniform over the
 * examples not in the batch (not class-aware: a shared set cannot avoid every anchor's class).
 */
export class NegativeSampler {
  readonly dataSize: number;
  readonly negatives: number;
  readonly positive: PositiveMode;
  /** Whether negatives avoid the anchor's class. */
  readonly classAware: boolean;
  private readonly labels?: Int32Array;
  /** Example indices grouped by class (class-aware) or `0..N-1`. */
  private readonly byClass: Int32Array;
  private readonly classStart: Int32Array;
  private readonly classCount: Int32Array;
  /** Position of each example in `byClass`. */
  private readonly position: Int32Array;
  /** Generation stamps for sampling without replacement (one per position). */
  private readonly stamp: Uint32Array;
  private generation = 0;

  constructor(options: NegativeSamplerOptions) {
    const { dataSize: n, negatives: k, labels, classAware, positive } = parseOptions(negativeSamplerSchema, options, 'NegativeSampler');
    if (k >= n) {
      throw new CrdError(
        'too-many-negatives',
        `CRD: negatives K = ${k} must be smaller than the number of training examples N = ${n} (reference: 16384 for N = 50000)`,
      );
    }
    if (labels && labels.length !== n) {
      throw new DistillationError('bad-option', `NegativeSampler: option "labels" has ${labels.length} labels for N = ${n} examples`);
    }
    if (positive === 'relax' && !labels) {
      throw new CrdError('no-labels', "CRD: positive mode 'relax' needs the training labels");
    }
    this.dataSize = n;
    this.negatives = k;
    this.positive = positive;
    this.classAware = labels !== undefined && classAware;
    this.labels = labels;
    this.stamp = new Uint32Array(n);
    this.position = new Int32Array(n);
    if (labels) {
      let classes = 0;
      for (let i = 0; i < n; i++) {
        const c = labels[i]!;
        if (!Number.isInteger(c) || c < 0) {
          throw new DistillationError('bad-labels', `NegativeSampler: label ${c} of example ${i} is not a class index >= 0`);
        }
        classes = Math.max(classes, c + 1);
      }
      this.classCount = new Int32Array(classes);
      for (let i = 0; i < n; i++) this.classCount[labels[i]!]! += 1;
      this.classStart = new Int32Array(classes);
      for (let c = 1; c < classes; c++) this.classStart[c] = this.classStart[c - 1]! + this.classCount[c - 1]!;
      const fill = Int32Array.from(this.classStart);
      this.byClass = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const c = labels[i]!;
        const p = fill[c]!;
        fill[c] = p + 1;
        this.byClass[p] = i;
        this.position[i] = p;
      }
      if (this.classAware) {
        const largest = Math.max(...this.classCount);
        if (largest === n) {
          throw new CrdError(
            'single-class',
            'CRD: every training example has the same label, so class-aware sampling has no negatives; pass classAware: false',
          );
        }
      }
    } else {
      this.byClass = Int32Array.from({ length: n }, (_, i) => i);
      for (let i = 0; i < n; i++) this.position[i] = i;
      this.classStart = new Int32Array(1);
      this.classCount = Int32Array.of(n);
    }
  }

  /** Reference sampling: `[positive, K negatives]` for each anchor index. */
  sample(index: ArrayLike<number>, random: SeededRandom): ContrastIndices {
    const ids = this.checked(index);
    const b = ids.length;
    const k = this.negatives;
    const contrast = new Int32Array(b * (k + 1));
    for (let i = 0; i < b; i++) {
      const id = ids[i]!;
      const row = i * (k + 1);
      contrast[row] = this.positiveOf(id, random);
      // The excluded block of positions: the anchor's class (class-aware) or the anchor itself.
      let start: number;
      let count: number;
      if (this.classAware) {
        const c = this.labels![id]!;
        start = this.classStart[c]!;
        count = this.classCount[c]!;
      } else {
        start = this.position[id]!;
        count = 1;
      }
      this.draw(contrast, row + 1, k, start, count, random);
    }
    return { kind: 'per-anchor', index: ids, contrast, negatives: k };
  }

  /** Shared variant: per-anchor positives and one set of K negatives drawn from outside the batch. */
  sampleShared(index: ArrayLike<number>, random: SeededRandom): SharedContrastIndices {
    const ids = this.checked(index);
    const positives = new Int32Array(ids.length);
    for (let i = 0; i < ids.length; i++) positives[i] = this.positiveOf(ids[i]!, random);
    const shared = new Int32Array(this.negatives);
    this.nextGeneration();
    let excluded = 0;
    for (const id of ids) {
      const p = this.position[id]!;
      if (this.stamp[p] !== this.generation) excluded++;
      this.stamp[p] = this.generation;
    }
    const pool = this.dataSize - excluded;
    if (pool <= 0) {
      throw new CrdError('too-many-negatives', 'CRD (shared): the batch covers every example, none is left as a negative');
    }
    const replace = this.negatives > pool;
    for (let j = 0; j < this.negatives; j++) {
      let p: number;
      do {
        p = random.int(this.dataSize);
      } while (this.stamp[p] === this.generation);
      if (!replace) this.stamp[p] = this.generation;
      shared[j] = this.byClass[p]!;
    }
    return { kind: 'shared', index: ids, positives, shared, negatives: this.negatives };
  }

  /** Validates anchor indices (integers in [0, N)) and copies them to an Int32Array. */
  private checked(index: ArrayLike<number>): Int32Array {
    if (index == null) {
      throw new CrdError('missing-indices', 'CRD needs the sample index of every example (batch.index)');
    }
    const ids = new Int32Array(index.length);
    for (let i = 0; i < index.length; i++) {
      const v = index[i]!;
      if (!Number.isInteger(v) || v < 0 || v >= this.dataSize) {
        throw new CrdError(
          'index-out-of-range',
          `CRD: sample index ${v} (batch position ${i}) is outside [0, ${this.dataSize}); ` +
            'the batch index must address the training data the memory bank was sized for',
        );
      }
      ids[i] = v;
    }
    return ids;
  }

  private positiveOf(id: number, random: SeededRandom): number {
    if (this.positive === 'exact') return id;
    const c = this.labels![id]!;
    return this.byClass[this.classStart[c]! + random.int(this.classCount[c]!)]!;
  }

  /**
   * Writes `k` example indices into `out[offset..]`, uniform over the positions outside
   * `[start, start + count)`, without replacement when enough exist (generation-stamped rejection).
   */
  private draw(out: Int32Array, offset: number, k: number, start: number, count: number, random: SeededRandom): void {
    const pool = this.dataSize - count;
    const replace = k > pool;
    this.nextGeneration();
    const generation = this.generation;
    for (let j = 0; j < k; j++) {
      let p: number;
      do {
        const v = random.int(pool);
        p = v < start ? v : v + count;
      } while (!replace && this.stamp[p] === generation);
      this.stamp[p] = generation;
      out[offset + j] = this.byClass[p]!;
    }
  }

  private nextGeneration(): void {
    this.generation = (this.generation + 1) >>> 0;
    if (this.generation === 0) {
      this.stamp.fill(0);
      this.generation = 1;
    }
  }
}
