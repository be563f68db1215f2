import { DistillationError, optionsSchema, parseOptions, type Teacher, type TeacherBatch, type TeacherLike, toTeacher } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { SpecialistsError } from './errors';
import { classesSchema, integer, positive, teacherSchema } from './schemas';
import { checkSubset, type Specialist } from './specialist';

/** Options of {@link combine} and {@link combineDistributions}. */
export interface CombineOptions {
  /** A specialist is active for an example when its classes meet the generalist's top-n. Default 1 (the paper's). */
  readonly topN?: number;
  /** Descent steps on the logits z (all examples at once). Default 100. */
  readonly steps?: number;
  /**
   * Step size. Each example's objective is divided by its number of KL terms
   * (1 + active specialists), whose Hessian in z then has spectral norm <= 1/2, so any
   * `lr < 4` decreases the objective at every step; default 2 (= 1 / smoothness).
   */
  readonly lr?: number;
  /**
   * `'gradient'` (default, the paper's): gradient descent on z with step `lr`. `'em'`: the
   * expectation-maximisation (MM) update for the same objective,
   * `q_i <- (p_g,i + sum_{m active} p_m,a(i) q_i / r_m,a(i)) / (1 + active)`, i.e. q minus the
   * normalised gradient taken in q instead of z: also monotone, same stationary points, no step
   * size, and far fewer steps (in our tests ~25 EM steps reach what 200+ gradient steps do on
   * sharp distributions). `lr` is ignored.
   */
  readonly solver?: 'gradient' | 'em';
}

/** Schema of {@link CombineOptions} (defaults applied). */
export const combineSchema = optionsSchema<CombineOptions>()({
  topN: integer(1).default(1),
  steps: integer(0).default(100),
  lr: positive.default(2),
  solver: z.enum(['gradient', 'em']).default('gradient'),
});

/** Options of {@link combineDistributions}. */
export interface CombineDistributionsOptions extends CombineOptions {
  /** Record the objective of every example before each step and after the last. Default false. */
  readonly trace?: boolean;
}

/** Schema of {@link CombineDistributionsOptions} (defaults applied). */
export const combineDistributionsSchema = optionsSchema<CombineDistributionsOptions>()({
  ...combineSchema.shape,
  trace: z.boolean().default(false),
});

/** Schema of a {@link Specialist} (`{ model, classes }`). */
export const specialistSchema = optionsSchema<Specialist>()({
  model: teacherSchema,
  classes: classesSchema,
});

const specialistsSchema = z.strictObject({ specialists: z.array(specialistSchema, { message: 'must be an array of { model, classes }' }) });

/** Throws core's `bad-teacher` unless `generalist` is teacher-like. */
export function checkGeneralist(generalist: TeacherLike, where: string): void {
  if (!teacherSchema.safeParse(generalist).success) {
    throw new DistillationError(
      'bad-teacher',
      `${where}: the generalist must be a LayersModel, an object with predict(x), a function (x) => logits or a Teacher, got ${generalist === null ? 'null' : typeof generalist}`,
    );
  }
}

/** Checks `specialists` (`{ model, classes }` objects) with `where` in the messages. */
export function checkSpecialists(specialists: readonly Specialist[], where: string): void {
  parseOptions(specialistsSchema, { specialists }, where);
}

/** One specialist's predictions for a batch, as {@link combineDistributions} takes them. */
export interface SpecialistPrediction {
  /** The generalist classes the specialist covers, in the order of its outputs. */
  readonly classes: readonly number[];
  /** Logits (or log-probabilities) `[batch, classes.length + 1]`, last = dustbin. Rows of inactive examples are ignored. */
  readonly logits: tf.Tensor2D;
  /** Which examples the specialist takes part in (`[batch]`, truthy = active). */
  readonly active: ArrayLike<number | boolean>;
}

/** Result of {@link combineDistributions}. */
export interface CombineResult {
  /** `log q` `[batch, classes]`: the combined distribution's log-probabilities. */
  readonly logits: tf.Tensor2D;
  /** Number of active specialists per example. */
  readonly activeCount: Int32Array;
  /**
   * With `trace: true`: the (undivided) objective `KL(p_g, q) + sum_m KL(p_m, fold_m(q))` of
   * every example before each step and after the last (`steps + 1` arrays of `[batch]`).
   */
  readonly objective?: Float32Array[];
}

/** Smallest bucket mass used in a ratio `p / r` (an empty dustbin bucket has r = 0). */
const TINY = 1e-30;

/** One-hot bucket matrix `[numClasses, classes.length + 1]`: class -> its output, others -> dustbin. */
function bucketMatrix(classes: readonly number[], numClasses: number): tf.Tensor2D {
  const position = new Map(classes.map((k, i) => [k, i]));
  const buckets = Int32Array.from({ length: numClasses }, (_, j) => position.get(j) ?? classes.length);
  return tf.tidy(() => tf.oneHot(tf.tensor1d(buckets, 'int32'), classes.length + 1, 1, 0, 'float32') as tf.Tensor2D);
}

/**
 * Folds a distribution over all classes `[batch, numClasses]` onto a specialist's outputs:
 * column `i` = `q[:, classes[i]]`, last column (dustbin) = the sum of `q` over every other class.
 * Rows still sum to the same total.
 */
export function foldDistribution(q: tf.Tensor2D, classes: readonly number[]): tf.Tensor2D {
  if (!(q instanceof tf.Tensor) || q.rank !== 2) {
    throw new SpecialistsError(
      'bad-probabilities',
      `foldDistribution: q must be a [batch, classes] tensor, got ${q instanceof tf.Tensor ? `shape [${q.shape}]` : typeof q}`,
    );
  }
  checkSubset(classes, q.shape[1], 'foldDistribution classes');
  return tf.tidy(() => tf.matMul(q, bucketMatrix(classes, q.shape[1])));
}

/**
 * Which specialists are active for each example: those whose classes meet the generalist's
 * `topN` most probable classes. Returns `[batch][specialist]` flags.
 */
export function activeSpecialists(generalistLogits: tf.Tensor2D, specialistClasses: readonly (readonly number[])[], topN = 1): boolean[][] {
  return activeFlags(generalistLogits, specialistClasses, topN, 'activeSpecialists');
}

function activeFlags(
  generalistLogits: tf.Tensor2D,
  specialistClasses: readonly (readonly number[])[],
  topN: number,
  where: string,
): boolean[][] {
  if (!(generalistLogits instanceof tf.Tensor) || generalistLogits.rank !== 2) {
    const got = generalistLogits instanceof tf.Tensor ? `[${generalistLogits.shape}]` : typeof generalistLogits;
    throw new DistillationError('logits-not-2d', `${where}: generalist logits must be [batch, classes], got ${got}`);
  }
  const [batch, numClasses] = generalistLogits.shape;
  if (!Number.isInteger(topN) || topN < 1 || topN > numClasses) {
    throw new DistillationError(
      'bad-option',
      `${where}: option "topN" must be an integer in [1, ${numClasses}] (the number of classes), got ${topN}`,
    );
  }
  if (!Array.isArray(specialistClasses))
    throw new SpecialistsError('bad-subset', `${where}: the specialists' classes must be an array of subsets`);
  specialistClasses.forEach((c, m) => checkSubset(c, numClasses, `${where}: specialist ${m} classes`));
  const top = tf.tidy(() => tf.topk(generalistLogits, topN).indices);
  const indices = top.dataSync();
  top.dispose();
  const sets = specialistClasses.map((c) => new Set(c));
  return Array.from({ length: batch }, (_, b) =>
    sets.map((set) => {
      for (let t = 0; t < topN; t++) if (set.has(indices[b * topN + t]!)) return true;
      return false;
    }),
  );
}

/**
 * The paper's combination (sect. 5.3): for each example, the distribution `q = softmax(z)` that
 * minimises `KL(p_g, q) + sum_{m active} KL(p_m, fold_m(q))`, where `fold_m` sums q over the
 * classes outside specialist m into its dustbin bucket. Plain gradient descent on z from the
 * generalist's logits, all examples at once, with the analytic gradient
 *
 * `dL/dz_i = (q_i - p_g,i) + sum_{m active} q_i (1 - p_m,a(i) / r_m,a(i))`,
 *
 * (`a(i)` = specialist m's bucket of class i, `r_m = fold_m(q)`), divided per example by its
 * number of terms (see {@link CombineOptions.lr}). There is no closed form in general; with one
 * specialist the optimum is `q_i = (p_g,i + p_m,i)/2` on its classes and
 * `q_i = p_g,i (G + p_m,dustbin) / (2 G)` elsewhere (`G` = the generalist's mass outside the
 * subset), and with a specialist covering every class it is the arithmetic mean `(p_g + p_m)/2`.
 *
 * Examples with no active specialist get exactly `logSoftmax(generalistLogits)`.
 */
export function combineDistributions(
  generalistLogits: tf.Tensor2D,
  specialists: readonly SpecialistPrediction[],
  options: CombineDistributionsOptions = {},
): CombineResult {
  return distributions(
    generalistLogits,
    specialists,
    parseOptions(combineDistributionsSchema, options, 'combineDistributions'),
    'combineDistributions',
  );
}

function distributions(
  generalistLogits: tf.Tensor2D,
  specialists: readonly SpecialistPrediction[],
  options: z.output<typeof combineDistributionsSchema>,
  where: string,
): CombineResult {
  const { steps, lr, solver } = options;
  if (!(generalistLogits instanceof tf.Tensor) || generalistLogits.rank !== 2) {
    const got = generalistLogits instanceof tf.Tensor ? `[${generalistLogits.shape}]` : typeof generalistLogits;
    throw new DistillationError('logits-not-2d', `${where}: generalist logits must be [batch, classes], got ${got}`);
  }
  if (!Array.isArray(specialists)) {
    throw new DistillationError(
      'bad-option',
      `${where}: specialists must be an array of { classes, logits, active }, got ${typeof specialists}`,
    );
  }
  const [batch, numClasses] = generalistLogits.shape;
  const activeCount = new Int32Array(batch);
  specialists.forEach((s, m) => {
    checkSubset(s?.classes, numClasses, `${where}: specialist ${m} classes`);
    if (
      !(s.logits instanceof tf.Tensor) ||
      s.logits.rank !== 2 ||
      s.logits.shape[0] !== batch ||
      s.logits.shape[1] !== s.classes.length + 1
    ) {
      const got = s.logits instanceof tf.Tensor ? `[${s.logits.shape}]` : typeof s.logits;
      throw new SpecialistsError(
        'specialist-output-mismatch',
        `${where}: specialist ${m} covers ${s.classes.length} classes, so its logits must be [${batch}, ${s.classes.length + 1}]; got ${got}`,
      );
    }
    if (s.active == null || s.active.length !== batch) {
      throw new SpecialistsError(
        'bad-active-flags',
        `${where}: specialist ${m} has ${s.active?.length ?? 'no'} active flags for ${batch} examples`,
      );
    }
    for (let b = 0; b < batch; b++) if (s.active[b]) activeCount[b]!++;
  });
  const trace: Float32Array[] | undefined = options.trace ? [] : undefined;
  const logits = tf.tidy(() => {
    const generalistLog = tf.logSoftmax(generalistLogits) as tf.Tensor2D;
    const used = specialists.filter((s) => Array.prototype.some.call(s.active, Boolean));
    if (used.length === 0) {
      trace?.push(...Array.from({ length: steps + 1 }, () => new Float32Array(batch)));
      return generalistLog;
    }
    const pg = tf.exp(generalistLog);
    const buckets = tf.concat(
      used.map((s) => bucketMatrix(s.classes, numClasses)),
      1,
    ) as tf.Tensor2D; // [C, T]
    const bucketsT = tf.transpose(buckets);
    const masks = used.map((s) =>
      tf.tensor2d(
        Float32Array.from({ length: batch }, (_, b) => (s.active[b] ? 1 : 0)),
        [batch, 1],
      ),
    );
    const specialistProbs = tf.concat(
      used.map((s, m) => tf.mul(tf.softmax(s.logits), masks[m]!)),
      1,
    ) as tf.Tensor2D; // [B, T]
    const count = tf.tensor2d(Float32Array.from(activeCount), [batch, 1]);
    const weight = tf.div(1, tf.add(count, 1));
    const objective = (z: tf.Tensor2D): Float32Array =>
      tf
        .tidy(() => {
          const logQ = tf.logSoftmax(z);
          const r = tf.maximum(tf.matMul(tf.exp(logQ), buckets), TINY);
          const gTerm = tf.sum(tf.mul(pg, tf.sub(generalistLog, logQ)), 1);
          const sTerms = tf.where(
            tf.greater(specialistProbs, 0),
            tf.mul(specialistProbs, tf.sub(tf.log(specialistProbs), tf.log(r))),
            tf.zerosLike(specialistProbs),
          );
          return tf.add(gTerm, tf.sum(sTerms, 1));
        })
        .dataSync() as Float32Array;
    let z: tf.Tensor2D = tf.clone(generalistLogits);
    for (let step = 0; step < steps; step++) {
      if (trace) trace.push(objective(z));
      const next = tf.tidy(() => {
        const q = tf.softmax(z);
        const r = tf.maximum(tf.matMul(q, buckets), TINY);
        const back = tf.matMul(tf.div(specialistProbs, r), bucketsT); // sum_m p_m,a(i) / r_m,a(i)
        const target = tf.mul(weight, tf.add(pg, tf.mul(q, back))); // q minus the normalised gradient
        if (solver === 'em') return tf.log(tf.maximum(target, TINY)) as tf.Tensor2D;
        return tf.sub(z, tf.mul(lr, tf.sub(q, target))) as tf.Tensor2D;
      });
      z.dispose();
      z = next;
    }
    if (trace) trace.push(objective(z));
    const anyActive = tf.greater(count, 0);
    return tf.where(tf.tile(anyActive, [1, numClasses]), tf.logSoftmax(z), generalistLog) as tf.Tensor2D;
  });
  return { logits, activeCount, ...(trace ? { objective: trace } : {}) };
}

/**
 * Generalist + specialists inference (paper sect. 5.3) for a batch `x`: runs the generalist,
 * picks for each example the specialists whose classes meet its top-`topN` classes, runs each
 * specialist only on the examples it is active for, and returns `log q` `[batch, classes]` of
 * {@link combineDistributions}. Exactly the generalist's log-probabilities where no specialist is
 * active. Synchronous; call outside gradient tapes. Caller disposes the result.
 *
 * `batch` names the rows of `x` (`ids`, in row order), as `@kd/core`'s `Teacher.predict` takes
 * it: the generalist gets it as given, and each specialist the ids of the rows it runs on, in the
 * same order, so members that look their outputs up by id (a stored teacher of
 * `@kd/teacher-store`) work. When `batch.ids` does not name every row (the Distiller passes
 * `{ ids: [] }` for a batch without ids) the specialists get `{ ids: [] }`; model members ignore
 * the ids either way.
 */
export function combine(
  generalist: TeacherLike,
  specialists: readonly Specialist[],
  x: tf.Tensor,
  options: CombineOptions = {},
  batch?: TeacherBatch,
): tf.Tensor2D {
  const parsed = parseOptions(combineSchema, options, 'combine');
  checkGeneralist(generalist, 'combine');
  checkSpecialists(specialists, 'combine');
  const g = toTeacher(generalist);
  return combineWith(
    g,
    specialists.map((s) => ({ teacher: toTeacher(s.model), classes: s.classes })),
    x,
    parsed,
    'combine',
    batch,
  ).logits;
}

/**
 * The {@link TeacherBatch} for the rows `rows` of a batch named by `batch`: its other fields with
 * the ids of those rows, in the order of `rows` (none when `batch.ids` does not name every one of
 * the batch's `size` rows); undefined without a batch.
 */
function subsetBatch(batch: TeacherBatch | undefined, size: number, rows: Int32Array): TeacherBatch | undefined {
  if (batch == null) return undefined;
  const ids = Array.isArray(batch.ids) && batch.ids.length === size ? batch.ids : undefined;
  return { ...batch, ids: ids ? Array.from(rows, (b) => ids[b]!) : [] };
}

/**
 * {@link combine} on already normalised teachers and parsed options; also returns the active
 * counts. `batch` is forwarded to the generalist and, subset to each specialist's rows, to the
 * specialists (see {@link combine}).
 */
export function combineWith(
  generalist: Teacher,
  specialists: readonly { readonly teacher: Teacher; readonly classes: readonly number[] }[],
  x: tf.Tensor,
  options: z.output<typeof combineSchema>,
  where: string,
  batch?: TeacherBatch,
): CombineResult {
  if (!(x instanceof tf.Tensor))
    throw new DistillationError('bad-option', `${where}: x must be a tf.Tensor batch, got ${x === null ? 'null' : typeof x}`);
  let activeCount: Int32Array = new Int32Array(0);
  const logits = tf.tidy(() => {
    const generalistLogits = generalist.predict(x, batch).logits;
    if (generalistLogits.rank !== 2) {
      throw new DistillationError(
        'logits-not-2d',
        `${where}: the generalist must output [batch, classes]; got [${generalistLogits.shape}]`,
      );
    }
    const size = generalistLogits.shape[0];
    if (size !== x.shape[0]) {
      throw new DistillationError(
        'logits-not-2d',
        `${where}: the generalist must output [batch, classes] logits, one row per example; it output [${generalistLogits.shape}] for ${x.shape[0]} examples`,
      );
    }
    const active = activeFlags(
      generalistLogits,
      specialists.map((s) => s.classes),
      options.topN,
      where,
    );
    const predictions: SpecialistPrediction[] = specialists.map((s, m) => {
      const rows = Int32Array.from(active.flatMap((flags, b) => (flags[m] ? [b] : [])));
      const flags = active.map((f) => f[m]!);
      const width = s.classes.length + 1;
      if (rows.length === 0) return { classes: s.classes, logits: tf.zeros([size, width]) as tf.Tensor2D, active: flags };
      const index = tf.tensor1d(rows, 'int32');
      const sub = s.teacher.predict(tf.gather(x, index), subsetBatch(batch, size, rows)).logits;
      if (sub.rank !== 2 || sub.shape[0] !== rows.length || sub.shape[1] !== width) {
        throw new SpecialistsError(
          'specialist-output-mismatch',
          `${where}: specialist ${m} covers ${s.classes.length} classes and must output [batch, ${width}] logits (last = dustbin); it output [${sub.shape}]`,
        );
      }
      const full = tf.scatterND(tf.reshape(index, [rows.length, 1]), tf.cast(sub, 'float32'), [size, width]) as tf.Tensor2D;
      return { classes: s.classes, logits: full, active: flags };
    });
    const result = distributions(generalistLogits, predictions, { ...options, trace: false }, where);
    activeCount = result.activeCount;
    return result.logits;
  });
  return { logits, activeCount };
}
