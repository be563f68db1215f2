import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import type { Batch, LabeledData } from './batch';
import { BatchReader } from './batchReader';
import { CHECKPOINT_VERSION, type Checkpoint, type CheckpointStore, type EpochPosition, fromRecord, toRecord } from './checkpoint';
import { checkDataShapes, checkFinite, gatherBatch, readLabels, validateData } from './data';
import { DistillationError, NonFiniteLossError } from './errors';
import { type EvaluateOptions, evaluateModel } from './evaluate';
import type { EpochLogs, EvaluationResult, ProgressEvent, ProgressListener } from './events';
import { withLeanSaves } from './leanTape';
import { logSoftmaxAt } from './losses/fusedKernels';
import { isStatefulOptimizer } from './optimizers/optimizer';
import { functionSchema, optionsSchema, parseOptions, rejectUnknownKeys } from './options';
import type {
  AfterStepOutputs,
  DistillationPlugin,
  PluginCheckpoint,
  SetupContext,
  StepContext,
  StepOutputs,
  TeacherOutputs,
  TeacherPrediction,
} from './plugin';
import { SeededRandom } from './random';
import type { LearningRateSchedule } from './schedules';
import { shuffleBufferOrder } from './shuffleBuffer';
import { batchTensors, checkSource, type DataSource, isDataSource, isRandomAccess, tensorSource } from './source';
import { TappedModel } from './taps';
import { type Teacher, type TeacherBatch, type TeacherLike, toTeacher } from './teacher';
import { defaultTeacherCache, isCachedTeacher, type TeacherCacheStats } from './teacherCache/cachedTeacher';
import { type TeacherCacheStore, teacherCacheStoreSchema } from './teacherCache/stores';
import { toTeacherOutputs } from './teacherOutputs';
import { checkWeight, describeWeighted, type WeightSchedule, weightAt } from './weightSchedules';

/** `'memory'`: the Distiller's default teacher-output cache; `'off'`: none (see {@link DistillerConfig.teacherCache}). */
export type TeacherCacheMode = 'memory' | 'off';

/** Construction options of a {@link Distiller}. */
export interface DistillerConfig {
  /** The trainable student: a LayersModel whose first output is logits `[batch, classes]`. */
  readonly student: tfl.LayersModel;
  /** The frozen teacher (model, function, GraphModel-like, or `ensembleTeacher`). Optional: without it the Distiller trains from scratch. */
  readonly teacher?: TeacherLike;
  /** Optimizer for the student and every plugin variable. */
  readonly optimizer: tf.Optimizer;
  /**
   * Seed of the run's randomness. Default 0. Each purpose draws from its own generator keyed by
   * the seed (the epoch's order by epoch; each plugin by its name and the step), so adding a
   * plugin or reading data further ahead never changes what another purpose draws.
   */
  readonly seed?: number;
  /**
   * Which variables the optimizer trains, asked of every candidate (the student's trainable
   * weights and every plugin's `variables`) at every step. Default: all of them. A rejected
   * variable gets no gradient and keeps its value exactly (e.g. stage 1 of FitNets trains only the
   * student up to the guided layer plus the regressor; see `trainStudentUpTo` / `fitStages`).
   */
  readonly trainable?: (variable: tf.Variable) => boolean;
  /**
   * The Distiller's default teacher-output cache. `'memory'` (default) wraps the teacher in a
   * cache like `cachedTeacher` that serves in-memory training tensors and steps aside, with the
   * reason in `teacherCacheStats()`, for a DataSource or a plugin that declares
   * `changesTeacherInput`; it never changes a result, only saves work. A {@link TeacherCacheStore}
   * works like `'memory'` and also keeps complete outputs in the store, keyed by content, for
   * other Distillers or later runs (`memoryTeacherCacheStore()`, `fileTeacherCacheStore(dir)` from
   * `@kd/core/node`). `'off'`: the teacher runs every step. Ignored for a teacher that is already
   * a `cachedTeacher` or precomputed (a stored teacher).
   */
  readonly teacherCache?: TeacherCacheMode | TeacherCacheStore;
  /** Largest teacher cache in bytes; a larger one is not kept (see `teacherCacheStats()`). Default 1 GiB. */
  readonly teacherCacheMaxBytes?: number;
}

/** Options of {@link Distiller.fit}. */
export interface FitOptions {
  /** Total number of epochs (a resumed run continues up to this number). */
  readonly epochs: number;
  /** Examples per step. Default 32. */
  readonly batchSize?: number;
  /** Reshuffle the examples every epoch with the seeded random source. Default true. */
  readonly shuffle?: boolean;
  /**
   * Batches of a {@link DataSource} read (and decoded) ahead while the current step trains: a
   * bounded queue. Default 2; 0 reads each batch when its step needs it. The batches, and so the
   * run's bits, are the same for every value. (In-memory tensors are not read ahead.)
   */
  readonly prefetch?: number;
  /**
   * Examples held by the seeded shuffle buffer of a front-to-back source (`stream()`); see
   * `shuffleBufferOrder` for what a buffer smaller than the data does to randomness. Default
   * 10,000. Random-access sources and tensors get a uniform permutation per epoch instead.
   */
  readonly shuffleBuffer?: number;
  /** Evaluated after every epoch; results in `logs.validation`. */
  readonly validation?: LabeledData | DataSource;
  /** A fixed rate or a schedule; applied to the optimizer before every step. Default: the optimizer's own rate. */
  readonly learningRate?: number | LearningRateSchedule;
  /** Receives the typed progress events. */
  readonly onEvent?: ProgressListener;
  /** Saves a checkpoint after every epoch (and every `checkpointEvery` steps). */
  readonly checkpoint?: CheckpointStore;
  /**
   * Also save a checkpoint every this many steps, inside epochs; a resume then continues from the
   * saved step of the epoch, with the same example order and running sums. Default: epoch ends only.
   */
  readonly checkpointEvery?: number;
  /** Resume from `checkpoint`'s last save, if there is one. Default false. */
  readonly resume?: boolean;
  /**
   * Stop once the run has taken this many steps in all (counting steps before a resume), even in
   * the middle of an epoch; the partial epoch is logged. Schedules see
   * `totalSteps = min(epochs * stepsPerEpoch, maxSteps)`. Default: no limit.
   */
  readonly maxSteps?: number;
  /**
   * Asked after every completed epoch (after its checkpoint is saved) with that epoch's logs and
   * the history so far; `true` ends the fit there (early stopping). A later `fit` or a resume
   * continues from the next epoch. Default: never.
   */
  readonly stopWhen?: (logs: EpochLogs, history: readonly EpochLogs[]) => boolean;
}

const dataSchema = z.custom<LabeledData | DataSource>((v) => typeof v === 'object' && v !== null, {
  message: 'must be { x, y } tensors or a DataSource',
});
const positiveInteger = z.number().int().positive();

/** Schema of {@link DistillerConfig}. */
export const distillerConfigSchema = optionsSchema<DistillerConfig>()({
  student: z.custom<tfl.LayersModel>(() => true),
  teacher: z.custom<TeacherLike>(() => true).optional(),
  optimizer: z.custom<tf.Optimizer>(() => true),
  seed: z.number().int().optional(),
  trainable: functionSchema<(variable: tf.Variable) => boolean>('a function (variable) => boolean').optional(),
  teacherCache: z.union([z.enum(['memory', 'off']), teacherCacheStoreSchema]).optional(),
  teacherCacheMaxBytes: z.number().int().nonnegative().optional(),
});

/** Schema of {@link FitOptions}. */
export const fitOptionsSchema = optionsSchema<FitOptions>()({
  epochs: z.number({ message: 'must be an integer >= 0' }).int().nonnegative(),
  batchSize: positiveInteger.default(32),
  shuffle: z.boolean().default(true),
  prefetch: z.number().int().nonnegative().default(2),
  shuffleBuffer: positiveInteger.default(10_000),
  validation: dataSchema.optional(),
  learningRate: z.union([z.number().finite().nonnegative(), functionSchema<LearningRateSchedule>('a number or a schedule')]).optional(),
  stopWhen: functionSchema<(logs: EpochLogs, history: readonly EpochLogs[]) => boolean>('a function (logs, history) => boolean').optional(),
  onEvent: functionSchema<ProgressListener>().optional(),
  checkpoint: z
    .custom<CheckpointStore>(
      (v) =>
        typeof v === 'object' &&
        v !== null &&
        typeof (v as CheckpointStore).save === 'function' &&
        typeof (v as CheckpointStore).load === 'function',
      {
        message: 'must be a store with save() and load() (memoryCheckpointStore(), fileCheckpointStore(path))',
      },
    )
    .optional(),
  resume: z.boolean().default(false),
  maxSteps: positiveInteger.optional(),
  checkpointEvery: positiveInteger.optional(),
});

/** Hooks of {@link DistillationPlugin} this version runs; other function fields are listed by `describe()`. */
const KNOWN_HOOKS = [
  'setup',
  'variables',
  'transformBatch',
  'loss',
  'afterStep',
  'onEpochStart',
  'onEpochEnd',
  'state',
  'loadState',
  'dispose',
];
const KNOWN_FIELDS = ['name', 'weight', 'label', 'needsTeacher', 'taps', 'labels', 'changesTeacherInput', 'minimumBatch'];

/** Result of {@link Distiller.fit}: one entry per completed epoch. */
export interface History {
  readonly epochs: readonly EpochLogs[];
}

/** A plugin of any state type (what `use()` takes; each plugin's hooks are typed by `definePlugin`). */
// biome-ignore lint/suspicious/noExplicitAny: the state type varies per plugin; `unknown` would reject typed hooks.
type AnyPlugin = DistillationPlugin<any>;

interface Slot {
  readonly plugin: DistillationPlugin<unknown>;
  state: unknown;
  /** The plugin's weight, checked by `use()`. */
  readonly weight: number | WeightSchedule;
}

/** The plugins that have each step hook, in the order the step runs them. */
interface StepHooks {
  readonly transformBatch: readonly Slot[];
  readonly loss: readonly Slot[];
  /** Reverse `use()` order. */
  readonly afterStep: readonly Slot[];
  /** Names of the plugins that read only integer labels. */
  readonly hardLabels: readonly string[];
  readonly teacherNeeded: boolean;
}

/**
 * A plugin's {@link StepContext}: its seeded `random` is made only when the plugin reads it (most
 * never do), from the run's seed, the plugin's name and the step.
 */
class PluginStepContext implements StepContext<unknown> {
  private seeded?: SeededRandom;

  constructor(
    readonly state: unknown,
    readonly epoch: number,
    readonly step: number,
    private readonly seed: number,
    private readonly pluginName: string,
    readonly keep: <T extends tf.Tensor>(tensor: T) => T,
  ) {}

  get random(): SeededRandom {
    this.seeded ??= SeededRandom.keyed(this.seed, `plugin:${this.pluginName}`, this.step);
    return this.seeded;
  }
}

type OptimizerWithRate = tf.Optimizer & { learningRate?: number; setLearningRate?: (rate: number) => void };

/**
 * Trains a student against a frozen teacher with a composable set of plugins.
 *
 * Each step: plugins' `transformBatch` (outside the tape, in `use()` order), the teacher's outputs
 * (outside the tape, no gradients), the student's forward pass and every plugin's `loss` (inside
 * the tape), the weighted sum, a finiteness check of every term (no update is applied when one is
 * NaN/Inf), the optimizer update of the student's and plugins' variables, then `afterStep`
 * (reverse order).
 */
export class Distiller {
  readonly student: tfl.LayersModel;
  readonly teacher?: Teacher;
  readonly optimizer: tf.Optimizer;
  /** Seed of the run's randomness (see {@link DistillerConfig.seed}). */
  readonly seed: number;
  private readonly trainable?: (variable: tf.Variable) => boolean;
  private readonly slots: Slot[] = [];
  private studentView?: TappedModel;
  private prepared?: { dataSize: number; numClasses: number };
  private epochsDone = 0;
  private globalStep = 0;
  private history: EpochLogs[] = [];
  /** Each plugin's weight as a scalar tensor (when it is not 1), remade only when the value changes. */
  private readonly constants = new Map<Slot, { value: number; scalar: tf.Scalar }>();
  /** Whether the Distiller wrapped the teacher in its default cache (and so clears it on dispose). */
  private readonly ownsCache: boolean;
  /** Whether the teacher's `begin` ran in the current fit (its `end` is then due). */
  private teacherStarted = false;
  private disposed = false;
  private fitting = false;
  /** Where a restored checkpoint stopped inside an epoch. */
  private position?: EpochPosition;
  /** The plugins of each step hook (see {@link hooks}). */
  private stepHooks?: StepHooks;
  /**
   * During a fit: every weight of the student, their `trainable` flags when the trainable list
   * was last made, and that list (see {@link studentTrainableVariables}).
   */
  private studentWeights?: { readonly all: readonly tfl.LayerVariable[]; flags: boolean[]; trainable: tf.Variable[] };

  constructor(config: DistillerConfig) {
    rejectUnknownKeys(distillerConfigSchema, config, 'Distiller');
    if (!(config?.student instanceof tfl.LayersModel)) {
      throw new DistillationError('bad-student', 'Distiller: student must be a tfjs LayersModel');
    }
    if (config.optimizer == null || !(config.optimizer instanceof tf.Optimizer)) {
      throw new DistillationError(
        'bad-optimizer',
        "Distiller: optimizer must be a tf.Optimizer (e.g. adam() or sgd({ learningRate }) from '@kd/core')",
      );
    }
    parseOptions(distillerConfigSchema, config, 'Distiller');
    this.student = config.student;
    const teacher = config.teacher === undefined ? undefined : toTeacher(config.teacher);
    const cacheMode = config.teacherCache ?? 'memory';
    const store = typeof cacheMode === 'object' && cacheMode !== null ? cacheMode : undefined;
    // The default: a cache that steps aside where it cannot hold (see DistillerConfig.teacherCache).
    this.ownsCache = teacher !== undefined && cacheMode !== 'off' && !teacher.precomputed && !isCachedTeacher(teacher);
    this.teacher = this.ownsCache
      ? defaultTeacherCache(teacher!, {
          ...(config.teacherCacheMaxBytes !== undefined ? { maxBytes: config.teacherCacheMaxBytes } : {}),
          ...(store ? { store } : {}),
        })
      : teacher;
    this.optimizer = config.optimizer;
    this.seed = config.seed ?? 0;
    this.trainable = config.trainable;
  }

  /**
   * Counters of the teacher-output cache (the default one, or a `cachedTeacher` given as the
   * teacher); undefined without a teacher, with `teacherCache: 'off'` or a teacher without a cache.
   */
  teacherCacheStats(): TeacherCacheStats | undefined {
    return isCachedTeacher(this.teacher) ? this.teacher.stats() : undefined;
  }

  /**
   * Adds plugins, one or several, or lists of them (`use(hardLabel(), crd(...))`,
   * `use(plugins)`); hooks run in `use()` order. Names must be unique. Returns `this`.
   */
  use(...plugins: readonly (AnyPlugin | readonly AnyPlugin[])[]): this {
    this.assertUsable('use');
    if (this.fitting) throw new DistillationError('fit-in-progress', 'use: add plugins before fit(), not while it runs');
    for (const plugin of plugins.flat()) this.add(plugin);
    return this;
  }

  private add(plugin: AnyPlugin): void {
    if (plugin == null || typeof plugin !== 'object' || typeof plugin.name !== 'string' || plugin.name === '') {
      throw new DistillationError('bad-plugin', 'Distiller.use: a plugin needs a non-empty name');
    }
    for (const hook of KNOWN_HOOKS) {
      const value = (plugin as unknown as Record<string, unknown>)[hook];
      if (value !== undefined && typeof value !== 'function') {
        throw new DistillationError('bad-plugin', `Plugin "${plugin.name}": ${hook} must be a function, got ${typeof value}`);
      }
    }
    if (plugin.labels !== undefined && plugin.labels !== 'targets' && plugin.labels !== 'hard') {
      throw new DistillationError(
        'bad-plugin',
        `Plugin "${plugin.name}": labels must be 'targets' or 'hard', got ${JSON.stringify(plugin.labels)}`,
      );
    }
    if (plugin.taps !== undefined) {
      const ok = (list: unknown) => list === undefined || (Array.isArray(list) && list.every((n) => typeof n === 'string' && n !== ''));
      if (typeof plugin.taps !== 'object' || !ok(plugin.taps.student) || !ok(plugin.taps.teacher)) {
        throw new DistillationError(
          'bad-plugin',
          `Plugin "${plugin.name}": taps must be { student?: string[], teacher?: string[] } of layer names`,
        );
      }
    }
    if (this.slots.some((s) => s.plugin.name === plugin.name)) {
      throw new DistillationError(
        'plugin-name-clash',
        `Distiller.use: a plugin named "${plugin.name}" is already in use (${this.slots.map((s) => s.plugin.name).join(', ')}); give each plugin a unique name`,
      );
    }
    if (this.prepared) {
      throw new DistillationError('plugin-after-setup', `Distiller.use("${plugin.name}"): add plugins before the first fit()`);
    }
    const weight = checkWeight(plugin.weight ?? 1, plugin.name);
    if (plugin.minimumBatch !== undefined && !(Number.isInteger(plugin.minimumBatch) && plugin.minimumBatch >= 1)) {
      throw new DistillationError(
        'bad-plugin',
        `Plugin "${plugin.name}": minimumBatch must be an integer >= 1, got ${plugin.minimumBatch}`,
      );
    }
    if (plugin.needsTeacher && !this.teacher) {
      throw new DistillationError('no-teacher', `Plugin "${plugin.name}" needs a teacher, but the Distiller has none`);
    }
    this.slots.push({ plugin: plugin as DistillationPlugin<unknown>, state: undefined, weight });
  }

  /** The plugins in use, in order. */
  get plugins(): readonly DistillationPlugin<unknown>[] {
    return this.slots.map((s) => s.plugin);
  }

  /** The weighted loss as text, e.g. `Loss = 1*ce + 0.9*kd(T=4)`. */
  describe(): string {
    const parts = this.slots.filter((s) => s.plugin.loss).map((s) => describeWeighted(s.weight, s.plugin.label ?? s.plugin.name));
    const unknown = this.slots.flatMap((s) =>
      Object.keys(s.plugin)
        .filter((k) => !KNOWN_HOOKS.includes(k) && !KNOWN_FIELDS.includes(k))
        .map((k) => `${s.plugin.name}.${k}`),
    );
    const loss = `Loss = ${parts.length ? parts.join(' + ') : '0 (no loss plugins)'}`;
    return unknown.length ? `${loss} (not run by this version of kd: ${unknown.join(', ')})` : loss;
  }

  /**
   * Trains for `options.epochs` epochs (counting epochs already done when resuming). Validates the
   * data, the models and every option before the first step.
   */
  async fit(data: LabeledData | DataSource, options: FitOptions): Promise<History> {
    this.assertUsable('fit');
    if (this.fitting) {
      throw new DistillationError(
        'fit-in-progress',
        'fit: this Distiller is already training (await the first fit() before starting another)',
      );
    }
    this.fitting = true;
    let failed = false;
    try {
      return await this.fitOnce(data, options);
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      this.fitting = false;
      this.studentWeights = undefined;
      if (this.teacherStarted) {
        this.teacherStarted = false;
        // A failing end() must not hide the error that ended the fit.
        const ending = this.teacher!.end?.();
        if (failed) await ending?.catch(() => undefined);
        else await ending;
      }
    }
  }

  private async fitOnce(data: LabeledData | DataSource, rawOptions: FitOptions): Promise<History> {
    const options = parseOptions(fitOptionsSchema, rawOptions, 'fit');
    const { epochs, batchSize } = options;
    if (!this.slots.some((s) => s.plugin.loss)) {
      throw new DistillationError('no-loss', 'fit: no plugin contributes a loss; use(hardLabel()) or another loss plugin');
    }
    if (this.teacher?.precomputed && this.teacherNeeded() && this.slots.some((s) => s.plugin.changesTeacherInput)) {
      throw new DistillationError(
        'precomputed-teacher-transformed',
        `fit: the teacher (${this.teacher.description}) holds outputs computed ahead for untransformed inputs, but plugin(s) [${this.slots
          .filter((s) => s.plugin.changesTeacherInput)
          .map((s) => s.plugin.name)
          .join(
            ', ',
          )}] change the teacher's input every step; use the live teacher, or augment in the data instead (fixed views, e.g. @kd/data's augmentedViews) and precompute the teacher per view`,
      );
    }
    if (options.resume && !options.checkpoint) {
      throw new DistillationError('bad-option', 'fit: option "resume" needs a checkpoint store (option "checkpoint")');
    }
    if (options.checkpointEvery !== undefined && !options.checkpoint) {
      throw new DistillationError('bad-option', 'fit: option "checkpointEvery" needs a checkpoint store (option "checkpoint")');
    }
    if (options.checkpoint) this.assertResumableOptimizer();
    const inputShape = this.student.inputs[0]?.shape;
    // In-memory tensors are checked whole before training; a source by its size, shapes and
    // labels here (nothing is read), and batch by batch as it is read.
    const tensors = isDataSource(data) ? undefined : data;
    let source: DataSource;
    let numClasses: number;
    let labels: Int32Array | undefined;
    if (!isDataSource(data)) {
      const tensors = data;
      checkDataShapes(tensors, 'training data', inputShape);
      checkFinite(tensors, 'training data');
      numClasses = this.checkModels(tensors);
      labels = readLabels(tensors, 'training data', numClasses);
      source = tensorSource(tensors);
    } else {
      source = data as DataSource;
      numClasses = this.studentClasses();
      labels = checkSource(source, 'training data', numClasses, { exampleShape: inputShape?.slice(1) });
      // The teacher is probed with one example of the declared shapes: nothing is read yet.
      const probe = tf.tidy(() => ({
        x: tf.zeros([1, ...source.exampleShape]),
        ...(source.teacherExampleShape ? { teacherX: tf.zeros([1, ...source.teacherExampleShape]) } : {}),
      }));
      try {
        this.checkModels(probe);
      } finally {
        tf.dispose([probe.x, ...(probe.teacherX ? [probe.teacherX] : [])]);
      }
    }
    const validation = options.validation;
    if (validation) {
      if (isDataSource(validation)) checkSource(validation, 'validation data', numClasses, { exampleShape: inputShape?.slice(1) });
      else validateData(validation, 'validation data', numClasses, inputShape);
    }
    this.checkBatchSizes(source.size, batchSize);
    await options.checkpoint?.probe?.();
    await this.prepare(source.size, numClasses, labels);
    if (options.resume) {
      const saved = await options.checkpoint!.load();
      if (saved?.position && saved.position.batchSize !== batchSize) {
        throw new DistillationError(
          'checkpoint-mismatch',
          `fit: the checkpoint was taken inside epoch ${saved.epoch} at batch size ${saved.position.batchSize}; resume it with batchSize ${saved.position.batchSize} (this fit asks for ${batchSize})`,
        );
      }
      if (saved) await this.restoreCheckpoint(saved);
    }
    if (this.teacher && this.teacherNeeded()) {
      this.teacherStarted = true;
      await this.teacher.begin?.({
        source,
        ...(tensors ? { tensors } : {}),
        taps: this.teacherTaps(),
        inputChangers: this.slots.filter((s) => s.plugin.changesTeacherInput).map((s) => s.plugin.name),
      });
    }

    const emit = async (event: ProgressEvent) => options.onEvent?.(event);
    const n = source.size;
    const stepsPerEpoch = Math.ceil(n / batchSize);
    const maxSteps = options.maxSteps ?? Number.POSITIVE_INFINITY;
    const totalSteps = Math.min(epochs * stepsPerEpoch, maxSteps);
    const schedule = options.learningRate;
    const cacheStats = this.teacherNeeded() ? this.teacherCacheStats() : undefined;
    await emit({
      type: 'fit-start',
      epochs,
      startEpoch: this.epochsDone,
      stepsPerEpoch,
      description: this.describe(),
      ...(cacheStats ? { teacherCache: { active: cacheStats.active, ...(cacheStats.reason ? { reason: cacheStats.reason } : {}) } } : {}),
    });

    this.studentWeights = { all: this.student.weights, flags: [], trainable: [] };
    let partial: EpochLogs | undefined;
    for (let epoch = this.epochsDone; epoch < epochs && this.globalStep < maxSteps; epoch++) {
      // A checkpoint taken inside this epoch: continue it (its hooks ran before the save).
      const resumed = this.position;
      this.position = undefined;
      if (resumed && resumed.order.length !== n) {
        throw new DistillationError(
          'checkpoint-mismatch',
          `fit: the checkpoint's epoch order has ${resumed.order.length} examples, the data ${n}`,
        );
      }
      if (resumed && resumed.batchSize !== batchSize) {
        throw new DistillationError(
          'checkpoint-mismatch',
          `fit: the checkpoint was taken inside epoch ${epoch} at batch size ${resumed.batchSize}; resume it with batchSize ${resumed.batchSize} (this fit asks for ${batchSize})`,
        );
      }
      const started = Date.now() - (resumed?.seconds ?? 0) * 1000;
      await emit({ type: 'epoch-start', epoch, epochs });
      if (!resumed) for (const slot of this.slots) await slot.plugin.onEpochStart?.({ state: slot.state, epoch, logs: {} });
      const order = resumed?.order ?? this.epochOrder(source, epoch, options);
      const reader = tensors
        ? undefined
        : new BatchReader(source, {
            order,
            batchSize,
            startBatch: resumed?.stepInEpoch ?? 0,
            prefetch: options.prefetch,
            what: 'training data',
            numClasses,
          });
      // In-memory tensors are gathered synchronously; a source's batch arrives from the reader.
      const readBatch = (indices: Int32Array): Batch | Promise<Batch> => {
        if (!reader) return { ...gatherBatch(tensors!, indices), ids: positionIds(indices) };
        return reader.next().then(({ positions, batch }) => ({
          ...batchTensors(source, batch),
          index: tf.tensor1d(positions, 'int32'),
          ids: batch.ids,
        }));
      };
      const sums: Record<string, number> = { ...(resumed?.termSums ?? {}) };
      let lossSum = resumed?.lossSum ?? 0;
      let learningRate = resumed?.learningRate ?? this.currentLearningRate();
      let stepsDone = resumed?.stepInEpoch ?? 0;
      try {
        for (let s = stepsDone; s < stepsPerEpoch && this.globalStep < maxSteps; s++) {
          if (schedule !== undefined) {
            learningRate = typeof schedule === 'number' ? schedule : schedule({ step: this.globalStep, epoch, stepsPerEpoch, totalSteps });
            this.setLearningRate(learningRate);
          }
          const indices = order.subarray(s * batchSize, Math.min(n, (s + 1) * batchSize));
          const { loss, terms } = await this.trainStep(readBatch, indices, epoch, tensors !== undefined);
          lossSum += loss;
          stepsDone++;
          for (const k in terms) sums[k] = (sums[k] ?? 0) + terms[k]!;
          if (options.onEvent) {
            // Awaited only when the listener is async: a synchronous one costs no extra turn per step.
            const listened = options.onEvent({
              type: 'step-end',
              epoch,
              epochs,
              step: this.globalStep - 1,
              stepInEpoch: s,
              stepsPerEpoch,
              loss,
              terms,
              learningRate,
            });
            if (listened !== undefined) await listened;
          }
          if (
            options.checkpointEvery &&
            this.globalStep % options.checkpointEvery === 0 &&
            s + 1 < stepsPerEpoch &&
            this.globalStep < maxSteps
          ) {
            const position = {
              stepInEpoch: s + 1,
              batchSize,
              order,
              lossSum,
              termSums: { ...sums },
              learningRate,
              seconds: (Date.now() - started) / 1000,
            };
            await options.checkpoint!.save(await this.snapshot(position));
            await emit({ type: 'checkpoint', epoch, step: this.globalStep });
          }
        }
      } finally {
        await reader?.close();
      }
      const validation = options.validation ? await this.evaluate(options.validation) : undefined;
      const logs: EpochLogs = {
        epoch,
        loss: lossSum / stepsDone,
        terms: Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / stepsDone])),
        learningRate,
        weights: this.weightsAt(epoch),
        seconds: (Date.now() - started) / 1000,
        ...(validation ? { validation } : {}),
      };
      if (stepsDone < stepsPerEpoch) {
        // Stopped by maxSteps inside the epoch: the epoch stays open, so a later fit (or a resume
        // from the checkpoint saved here) continues it with the same order and sums.
        this.position = { stepInEpoch: stepsDone, batchSize, order, lossSum, termSums: { ...sums }, learningRate, seconds: logs.seconds };
        partial = logs;
        await emit({ type: 'epoch-end', epoch, epochs, logs });
        if (options.checkpoint) {
          await options.checkpoint.save(await this.snapshot(this.position));
          await emit({ type: 'checkpoint', epoch, step: this.globalStep });
        }
        break;
      }
      const flat: Record<string, number> = { loss: logs.loss, ...logs.terms };
      if (validation) Object.assign(flat, { valAccuracy: validation.accuracy, valLoss: validation.loss });
      for (const slot of [...this.slots].reverse()) await slot.plugin.onEpochEnd?.({ state: slot.state, epoch, logs: flat });
      this.history.push(logs);
      this.epochsDone = epoch + 1;
      await emit({ type: 'epoch-end', epoch, epochs, logs });
      if (options.checkpoint) {
        await options.checkpoint.save(await this.checkpoint());
        await emit({ type: 'checkpoint', epoch, step: this.globalStep });
      }
      const stop: unknown = options.stopWhen?.(logs, this.history);
      if (stop !== undefined && typeof stop !== 'boolean') {
        // An async predicate's Promise is truthy: stopping on it would end every fit after one epoch.
        throw new DistillationError(
          'bad-option',
          `fit: option "stopWhen" must return true or false, got ${stop instanceof Promise ? 'a Promise (it must not be async)' : typeof stop}`,
        );
      }
      if (stop) break;
    }
    const history = { epochs: [...this.history, ...(partial ? [partial] : [])] };
    await emit({ type: 'fit-end', history: history.epochs });
    return history;
  }

  /** Accuracy and cross-entropy of the student on labelled data (inference mode). */
  evaluate(data: LabeledData | DataSource, options: EvaluateOptions = {}): Promise<EvaluationResult> {
    this.assertUsable('evaluate');
    return evaluateModel(this.student, data, options);
  }

  /**
   * The run's state as a {@link Checkpoint} (plain arrays; no tensors to dispose). Call it after
   * `fit` has set the plugins up (between or after `fit` calls, or from an event listener).
   */
  checkpoint(): Promise<Checkpoint> {
    return this.snapshot(this.position);
  }

  private async snapshot(position: EpochPosition | undefined): Promise<Checkpoint> {
    this.assertUsable('checkpoint');
    if (!this.prepared) {
      throw new DistillationError('not-set-up', 'checkpoint: nothing to save before fit() has set the plugins up');
    }
    const student = this.student.weights.map((w, i) => toRecord(`${i}:${w.originalName}`, w.read()));
    // kd's optimizers save their state in the order of this Distiller's variables (names may
    // differ in the process that resumes); tfjs' optimizers save theirs positionally.
    const optimizerWeights = isStatefulOptimizer(this.optimizer)
      ? [await this.optimizer.saveIterations(), ...this.optimizer.saveState(this.candidateVariables())]
      : await this.optimizer.getWeights();
    const optimizer = optimizerWeights.map((w, i) => toRecord(`${i}:${w.name}`, w.tensor));
    for (const w of optimizerWeights) if (!(w.tensor instanceof tf.Variable)) w.tensor.dispose();
    const plugins: Record<string, { tensors: ReturnType<typeof toRecord>[]; json?: unknown }> = {};
    for (const slot of this.slots) {
      if (!slot.plugin.state) continue;
      const saved = slot.plugin.state(slot.state);
      plugins[slot.plugin.name] = {
        tensors: Object.entries(saved.tensors).map(([k, t]) => toRecord(k, t)),
        json: saved.json,
      };
    }
    return {
      format: 'kd-checkpoint',
      version: CHECKPOINT_VERSION,
      run: {
        plugins: this.slots.map((s) => s.plugin.name),
        dataSize: this.prepared.dataSize,
        numClasses: this.prepared.numClasses,
        optimizer: this.optimizer.getClassName(),
        ...(isStatefulOptimizer(this.optimizer) ? { optimizerSettings: this.optimizer.settings() } : {}),
        seed: this.seed,
      },
      ...(position ? { position: { ...position, order: Int32Array.from(position.order) } } : {}),
      epoch: this.epochsDone,
      step: this.globalStep,
      history: structuredClone(this.history),
      student,
      optimizer,
      plugins,
    };
  }

  /**
   * Restores a {@link Checkpoint} into this Distiller: student weights, optimizer state, plugin
   * states, epoch, step, RNG and history. Needs the same architecture and plugins, a fresh
   * optimizer, and `fit` to have prepared the plugins (use `fit({ resume: true })`).
   */
  async restore(checkpoint: Checkpoint): Promise<void> {
    this.assertUsable('restore');
    if (this.fitting)
      throw new DistillationError('fit-in-progress', 'restore: wait for fit() to finish (or resume with fit({ resume: true }))');
    return this.restoreCheckpoint(checkpoint);
  }

  private async restoreCheckpoint(checkpoint: Checkpoint): Promise<void> {
    if (!this.prepared) {
      throw new DistillationError(
        'not-set-up',
        'restore: the plugins are not set up yet; resume with fit(data, { checkpoint, resume: true })',
      );
    }
    this.checkRestorable(checkpoint);
    // Plugins first: a plugin that rejects its saved state (its own checks) fails before the
    // student's and the optimizer's weights are touched.
    for (const slot of this.slots) {
      const saved = checkpoint.plugins[slot.plugin.name];
      if (!slot.plugin.loadState || !saved) continue;
      const tensors = Object.fromEntries(saved.tensors.map((r) => [r.name, fromRecord(r)]));
      try {
        slot.plugin.loadState(slot.state, { tensors, json: saved.json } as PluginCheckpoint);
      } finally {
        tf.dispose(Object.values(tensors));
      }
    }
    const studentTensors = checkpoint.student.map(fromRecord);
    const optimizerTensors = checkpoint.optimizer.map((r) => ({ name: r.name.replace(/^\d+:/, ''), tensor: fromRecord(r) }));
    try {
      this.student.setWeights(studentTensors);
      if (isStatefulOptimizer(this.optimizer)) {
        const iterations = optimizerTensors[0]!.tensor.dataSync()[0]!;
        this.optimizer.restoreState(
          iterations,
          optimizerTensors.slice(1).map((w) => w.tensor),
          this.candidateVariables(),
        );
      } else {
        await this.optimizer.setWeights(optimizerTensors);
      }
    } finally {
      tf.dispose(studentTensors);
      tf.dispose(optimizerTensors.map((w) => w.tensor));
    }
    this.epochsDone = checkpoint.epoch;
    this.globalStep = checkpoint.step;
    this.history = structuredClone([...checkpoint.history]);
    this.position = checkpoint.position && { ...checkpoint.position, order: Int32Array.from(checkpoint.position.order) };
  }

  /** Refuses a checkpoint of another run before anything is touched, naming the difference. */
  private checkRestorable(checkpoint: Checkpoint): void {
    const refuse = (what: string) => {
      throw new DistillationError('checkpoint-mismatch', `restore: ${what}`);
    };
    if (checkpoint?.format !== 'kd-checkpoint') {
      throw new DistillationError('bad-checkpoint', 'restore: not a kd checkpoint');
    }
    if (checkpoint.version !== CHECKPOINT_VERSION) {
      throw new DistillationError(
        'bad-checkpoint',
        `restore: checkpoint format ${checkpoint.version}, this kd reads ${CHECKPOINT_VERSION}`,
      );
    }
    const names = this.slots.map((s) => s.plugin.name);
    const saved = checkpoint.run.plugins;
    if (saved.join('\u0000') !== names.join('\u0000')) {
      const missing = saved.filter((n) => !names.includes(n));
      const extra = names.filter((n) => !saved.includes(n));
      refuse(
        `the checkpoint was saved with plugins [${saved.join(', ')}], this Distiller uses [${names.join(', ')}]` +
          (missing.length ? `; missing: ${missing.join(', ')}` : '') +
          (extra.length ? `; not in the checkpoint: ${extra.join(', ')}` : '') +
          (!missing.length && !extra.length ? ' (another order)' : ''),
      );
    }
    if (checkpoint.run.dataSize !== this.prepared!.dataSize || checkpoint.run.numClasses !== this.prepared!.numClasses) {
      refuse(
        `the checkpoint was saved for ${checkpoint.run.dataSize} examples of ${checkpoint.run.numClasses} classes, this run has ${this.prepared!.dataSize} of ${this.prepared!.numClasses}`,
      );
    }
    if (checkpoint.run.seed !== this.seed) {
      refuse(
        `the checkpoint was saved by a run with seed ${checkpoint.run.seed}, this Distiller has seed ${this.seed}; resume with the same seed (every random draw is keyed by it)`,
      );
    }
    if (checkpoint.run.optimizer !== this.optimizer.getClassName()) {
      refuse(`the checkpoint's optimizer is ${checkpoint.run.optimizer}, this run's ${this.optimizer.getClassName()}`);
    }
    if (isStatefulOptimizer(this.optimizer)) {
      const saved = JSON.stringify(checkpoint.run.optimizerSettings ?? {});
      const current = JSON.stringify(this.optimizer.settings());
      if (saved !== current) refuse(`the checkpoint's ${checkpoint.run.optimizer} has settings ${saved}, this run's ${current}`);
    }
    const weights = this.student.weights;
    if (checkpoint.student.length !== weights.length) {
      refuse(`the checkpoint has ${checkpoint.student.length} student weights, the student "${this.student.name}" has ${weights.length}`);
    }
    checkpoint.student.forEach((r, i) => {
      const shape = weights[i]!.shape;
      if (r.shape.length !== shape.length || r.shape.some((d, j) => d !== shape[j])) {
        refuse(`student weight ${i} "${weights[i]!.originalName}" has shape [${shape}], the checkpoint's "${r.name}" [${r.shape}]`);
      }
    });
    if (this.optimizer.iterations > 0) {
      throw new DistillationError('optimizer-in-use', 'restore: the optimizer has already taken steps; restore into a fresh optimizer');
    }
    if (isStatefulOptimizer(this.optimizer)) {
      const problem = this.optimizer.stateMismatch(checkpoint.optimizer.slice(1), this.candidateVariables());
      if (problem) refuse(problem);
    }
    for (const slot of this.slots) {
      const stored = checkpoint.plugins[slot.plugin.name];
      if (!slot.plugin.state) continue;
      if (!stored) refuse(`the checkpoint has no state for plugin "${slot.plugin.name}"`);
      const current = slot.plugin.state(slot.state).tensors;
      const storedByName = new Map(stored!.tensors.map((r) => [r.name, r.shape]));
      for (const [name, tensor] of Object.entries(current)) {
        const shape = storedByName.get(name);
        if (!shape) refuse(`plugin "${slot.plugin.name}": the checkpoint has no tensor "${name}"`);
        if (shape!.length !== tensor.shape.length || shape!.some((d, j) => d !== tensor.shape[j])) {
          refuse(`plugin "${slot.plugin.name}": tensor "${name}" has shape [${tensor.shape}], the checkpoint's [${shape}]`);
        }
      }
    }
  }

  /** Metadata describing how the student was distilled (for `userDefinedMetadata`). */
  metadata(): Record<string, unknown> {
    return {
      loss: this.describe(),
      plugins: this.slots.map((s) => ({ name: s.plugin.name, label: s.plugin.label ?? s.plugin.name, weight: s.weight })),
      teacher: this.teacher?.description ?? null,
      epochs: this.epochsDone,
      steps: this.globalStep,
      history: this.history.map((h) => ({ epoch: h.epoch, loss: h.loss, validation: h.validation ?? null })),
    };
  }

  /**
   * Disposes every plugin's long-lived state (memory banks, heads) and empties the teacher
   * cache. Models and optimizer stay the caller's.
   */
  dispose(): void {
    if (this.fitting) throw new DistillationError('fit-in-progress', 'dispose: wait for fit() to finish before disposing');
    this.disposed = true;
    if (this.ownsCache && isCachedTeacher(this.teacher)) this.teacher.clear();
    for (const slot of [...this.slots].reverse()) {
      if (slot.state !== undefined) slot.plugin.dispose?.(slot.state);
      slot.state = undefined;
    }
    this.prepared = undefined;
    for (const c of this.constants.values()) c.scalar.dispose();
    this.constants.clear();
  }

  /**
   * `slot`'s weight `value` as a kept scalar, made on first use and again only when a schedule
   * changes the value (the old one is disposed then; all by `dispose()`).
   */
  private constant(slot: Slot, value: number): tf.Scalar {
    const held = this.constants.get(slot);
    if (held?.value === value) return held.scalar;
    held?.scalar.dispose();
    const scalar = tf.keep(tf.scalar(value));
    this.constants.set(slot, { value, scalar });
    return scalar;
  }

  /** Refuses, before any work, batches smaller than a plugin's `minimumBatch` (the last partial one included). */
  private checkBatchSizes(n: number, batchSize: number): void {
    const last = n % batchSize || Math.min(batchSize, n);
    const smallest = Math.min(batchSize, last);
    for (const slot of this.slots) {
      const need = slot.plugin.minimumBatch;
      if (need === undefined || smallest >= need || n === 0) continue;
      throw new DistillationError(
        'batch-too-small',
        `fit: plugin "${slot.plugin.name}" needs batches of at least ${need} examples, but ${n} examples in batches of ${batchSize} ` +
          `leave ${last < batchSize ? `a last batch of ${last}` : `batches of ${smallest}`}; choose a batch size that leaves at least ${need} examples in every batch`,
      );
    }
  }

  /** The weight of every plugin with a loss at zero-based `epoch` (what `EpochLogs.weights` records). */
  private weightsAt(epoch: number): Record<string, number> {
    return Object.fromEntries(this.slots.filter((s) => s.plugin.loss).map((s) => [s.plugin.name, weightAt(s.weight, epoch)]));
  }

  private assertUsable(what: string): void {
    if (this.disposed) {
      throw new DistillationError('disposed', `${what}: this Distiller was disposed (its plugins' state is gone); create a new one`);
    }
  }

  /** tfjs' Adam family cannot be restored exactly; a checkpointed run needs kd's optimizers. */
  private assertResumableOptimizer(): void {
    const name = this.optimizer.getClassName();
    if (!isStatefulOptimizer(this.optimizer) && (name === 'Adam' || name === 'Adamax')) {
      throw new DistillationError(
        'optimizer-not-resumable',
        `fit: tfjs' ${name} optimizer cannot be checkpointed exactly (its setWeights recomputes beta^t differently, so a resumed run drifts); ` +
          `use ${name === 'Adam' ? "adam({ learningRate }) from '@kd/core'" : "adam() or another optimizer from '@kd/core'"}, the same update with exact state`,
      );
    }
  }

  /** The student's number of classes (its logits' last dimension); throws unless logits are 2-D. */
  private studentClasses(): number {
    const studentOutput = this.student.outputs[0];
    if (studentOutput?.shape.length !== 2 || studentOutput.shape[1] == null) {
      throw new DistillationError(
        'logits-not-2d',
        `The student "${this.student.name}" must output 2-D logits [batch, classes]; its output has shape [${studentOutput?.shape.map(String)}]`,
      );
    }
    return studentOutput.shape[1];
  }

  /** Checks the student and the teacher on the first example of `data`; returns the number of classes. */
  private checkModels(data: { readonly x: tf.Tensor; readonly teacherX?: tf.Tensor }): number {
    const numClasses = this.studentClasses();
    const declared = this.teacher?.numClasses;
    if (declared !== undefined) {
      if (declared !== numClasses) {
        throw new DistillationError(
          'class-count-mismatch',
          `Teacher (${this.teacher!.description}) outputs ${declared} classes but the student ${numClasses}: they must predict the same classes`,
        );
      }
      return numClasses;
    }
    if (this.teacher && data?.x instanceof tf.Tensor && (data.x.shape[0] ?? 0) > 0) {
      const probeInput = data.teacherX ?? data.x;
      let logits: tf.Tensor;
      try {
        logits = tf.tidy(() => this.teacher!.predict(tf.slice(probeInput, 0, 1)).logits);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new DistillationError(
          'teacher-input-mismatch',
          `The teacher (${this.teacher.description}) cannot take the ${data.teacherX ? 'teacherX' : 'training'} inputs of example shape [${probeInput.shape.slice(1)}]: ${reason}`,
          { cause: error },
        );
      }
      const shape = logits.shape;
      logits.dispose();
      if (shape.length !== 2) {
        throw new DistillationError('logits-not-2d', `The teacher must output 2-D logits [batch, classes]; it output shape [${shape}]`);
      }
      if (shape[1] !== numClasses) {
        throw new DistillationError(
          'class-count-mismatch',
          `Teacher outputs ${shape[1]} classes but the student ${numClasses}: they must predict the same classes`,
        );
      }
    }
    return numClasses;
  }

  private async prepare(dataSize: number, numClasses: number, labels: Int32Array | undefined): Promise<void> {
    if (this.prepared) {
      if (this.prepared.dataSize !== dataSize || this.prepared.numClasses !== numClasses) {
        throw new DistillationError(
          'data-changed',
          `fit: the plugins were set up for ${this.prepared.dataSize} examples of ${this.prepared.numClasses} classes, now ${dataSize} of ${numClasses}`,
        );
      }
      return;
    }
    const studentTaps = this.slots.flatMap((s) => s.plugin.taps?.student ?? []);
    const teacherTaps = this.slots.flatMap((s) => s.plugin.taps?.teacher ?? []);
    this.studentView = new TappedModel(this.student, studentTaps, 'student');
    const teacherShapes = this.teacher ? this.teacher.tap([...new Set(teacherTaps)]) : {};
    if (!this.teacher && teacherTaps.length > 0) {
      throw new DistillationError('no-teacher', `Plugins tap teacher layers [${teacherTaps.join(', ')}] but the Distiller has no teacher`);
    }
    const context: Omit<SetupContext, 'random'> = {
      dataSize,
      numClasses,
      studentShapes: this.studentView.shapes,
      teacherShapes,
      ...(labels ? { labels } : {}),
    };
    for (const slot of this.slots) {
      slot.state = await slot.plugin.setup?.({ ...context, random: SeededRandom.keyed(this.seed, `setup:${slot.plugin.name}`) });
    }
    this.prepared = { dataSize, numClasses };
  }

  /**
   * Where a teacher exists but was not run (no plugin declared it), reading `outputs.teacher`
   * throws a clear error instead of yielding undefined.
   */
  private guardTeacher<T extends StepOutputs>(outputs: T): T {
    if (!this.teacher || outputs.teacher || this.teacherNeeded()) return outputs;
    const names = this.slots.map((s) => s.plugin.name).join(', ');
    Object.defineProperty(outputs, 'teacher', {
      enumerable: false,
      get: () => {
        throw new DistillationError(
          'teacher-not-declared',
          `A plugin read outputs.teacher, but none of [${names}] declares needsTeacher: true (or teacher taps), so the teacher was not run. Set needsTeacher: true on the plugin that reads it.`,
        );
      },
    });
    return outputs;
  }

  /** Teacher layers the plugins tap (distinct). */
  private teacherTaps(): string[] {
    return [...new Set(this.slots.flatMap((s) => s.plugin.taps?.teacher ?? []))];
  }

  /** Whether any plugin reads teacher outputs; a teacher nobody reads is never run. */
  private teacherNeeded(): boolean {
    return this.slots.some((s) => s.plugin.needsTeacher || (s.plugin.taps?.teacher?.length ?? 0) > 0);
  }

  /**
   * The student's trainable variables (tfjs-layers' `trainableWeights` order). During a fit the list
   * is made again only when a weight's `trainable` flag changed (a layer frozen or unfrozen from a
   * listener): tfjs-layers' getter allocates a few arrays per layer on every call.
   */
  private studentTrainableVariables(): tf.Variable[] {
    const cached = this.studentWeights;
    if (!cached) return this.studentView!.trainableVariables();
    const { all, flags } = cached;
    let same = flags.length === all.length;
    for (let i = 0; same && i < all.length; i++) same = all[i]!.trainable === flags[i];
    if (!same) {
      cached.flags = all.map((w) => w.trainable);
      cached.trainable = this.studentView!.trainableVariables();
    }
    return cached.trainable;
  }

  /** Every variable the optimizer may train (before the trainable filter), in a fixed order. */
  private candidateVariables(): tf.Variable[] {
    const variables = [...this.studentTrainableVariables()];
    for (const slot of this.slots) if (slot.plugin.variables) variables.push(...slot.plugin.variables(slot.state));
    return variables;
  }

  private trainableVariables(): tf.Variable[] {
    const variables = this.candidateVariables();
    if (!this.trainable) return variables;
    const chosen = variables.filter((v) => this.trainable!(v));
    if (chosen.length === 0) {
      throw new DistillationError('nothing-to-train', `Distiller: the trainable filter rejects all ${variables.length} variables`);
    }
    return chosen;
  }

  /** The epoch's order of positions: a seeded permutation, a seeded shuffle buffer's order, or `0..N-1`. */
  private epochOrder(source: DataSource, epoch: number, options: { shuffle: boolean; shuffleBuffer: number }): Int32Array {
    const n = source.size;
    if (!options.shuffle) return Int32Array.from({ length: n }, (_, i) => i);
    const random = SeededRandom.keyed(this.seed, 'order', epoch);
    return isRandomAccess(source) ? random.permutation(n) : shuffleBufferOrder(n, options.shuffleBuffer, random);
  }

  private async trainStep(
    read: (indices: Int32Array) => Promise<Batch> | Batch,
    indices: Int32Array,
    epoch: number,
    idsArePositions: boolean,
  ): Promise<{ loss: number; terms: Record<string, number> }> {
    const step = this.globalStep;
    const hooks = this.hooks();
    const kept: tf.Tensor[] = [];
    const keep = <T extends tf.Tensor>(t: T): T => {
      kept.push(tf.keep(t));
      return t;
    };
    // One context per plugin and step, made when a hook first needs it (most plugins have one hook).
    const contexts = new Map<Slot, StepContext<unknown>>();
    const contextFor = (slot: Slot): StepContext<unknown> => {
      let context = contexts.get(slot);
      if (!context) {
        context = new PluginStepContext(slot.state, epoch, step, this.seed, slot.plugin.name, keep);
        contexts.set(slot, context);
      }
      return context;
    };
    tf.engine().startScope();
    try {
      const pending = read(indices);
      const gathered: Batch = isPromiseLike(pending) ? await pending : pending;
      let batch = gathered;
      for (const slot of hooks.transformBatch) {
        const transformed = slot.plugin.transformBatch!(batch, contextFor(slot));
        batch = isPromiseLike(transformed) ? await transformed : transformed;
      }
      if ((batch.targets ?? batch.yMixed) && hooks.hardLabels.length > 0) {
        throw new DistillationError(
          'soft-targets-unsupported',
          `A transform set soft label targets, but plugin(s) [${hooks.hardLabels.join(', ')}] read only integer labels; remove the transform or those plugins`,
        );
      }
      // Whether the teacher's input is not the example as read (a transform replaced it).
      const transformed = (batch.teacherX ?? batch.x) !== (gathered.teacherX ?? gathered.x);
      const runTeacher = this.teacher !== undefined && hooks.teacherNeeded;
      if (runTeacher && this.teacher!.precomputed && transformed) {
        throw new DistillationError(
          'precomputed-teacher-transformed',
          `A transform of [${hooks.transformBatch.map((s) => s.plugin.name).join(', ')}] changed the step's inputs, but the teacher (${this.teacher!.description}) holds outputs computed ahead for the untransformed inputs; declare changesTeacherInput on that plugin (it is then refused up front) or use the live teacher`,
        );
      }
      // In-memory tensors: the ids are the positions, and `index` holds them as a tensor already.
      const positions = idsArePositions && batch.index === gathered.index && batch.ids === gathered.ids ? batch.index : undefined;
      const teacherBatch: TeacherBatch = positions
        ? { ids: batch.ids ?? [], transformed, positions }
        : { ids: batch.ids ?? [], transformed };
      const teacher: TeacherOutputs | undefined = runTeacher
        ? withLogProbabilities(this.teacher!.predict(batch.teacherX ?? batch.x, teacherBatch))
        : undefined;
      const names: string[] = [];
      const termTensors: tf.Scalar[] = [];
      let outputs: StepOutputs | undefined;
      const { value, grads } = gradientsOrFreeTape(() => {
        const student = this.studentView!.run(batch.x, true);
        outputs = this.guardTeacher(teacher ? { student, teacher, batch } : { student, batch });
        keep(student.logits);
        for (const name in student.features) keep(student.features[name]!);
        const weights: (tf.Scalar | undefined)[] = [];
        for (const slot of hooks.loss) {
          const result = slot.plugin.loss!(outputs, contextFor(slot));
          const weight = weightAt(slot.weight, epoch);
          // A weight of 1 adds no kernel; other weights multiply by the plugin's kept weight scalar.
          const scalar = weight === 1 ? undefined : this.constant(slot, weight);
          if (result instanceof tf.Tensor) {
            addTerm(slot, slot.plugin.name, result, scalar);
            continue;
          }
          if (typeof result !== 'object' || result === null) {
            throw new DistillationError(
              'bad-loss',
              `Plugin "${slot.plugin.name}": loss must return a scalar tensor or a record of named scalar tensors, got ${result === null ? 'null' : typeof result}`,
            );
          }
          for (const name of Object.keys(result)) addTerm(slot, name, result[name]!, scalar);
        }
        return weightedTotal(termTensors, weights);

        function addTerm(slot: Slot, name: string, term: tf.Scalar, weight: tf.Scalar | undefined): void {
          if (!(term instanceof tf.Tensor) || term.rank !== 0) {
            throw new DistillationError(
              'bad-loss',
              `Plugin "${slot.plugin.name}" returned term "${name}" that is not a scalar tensor (shape [${term instanceof tf.Tensor ? term.shape : typeof term}])`,
            );
          }
          if (names.includes(name)) {
            throw new DistillationError('term-name-clash', `Two plugins return a loss term named "${name}"`);
          }
          names.push(name);
          termTensors.push(keep(term));
          weights.push(weight);
        }
      }, this.trainableVariables());
      // One term of weight 1 is the total itself: read once.
      const alone = termTensors.length === 1 && termTensors[0] === value;
      const readBack = readScalars(alone ? [value] : [value, ...termTensors]);
      const values = isPromiseLike(readBack) ? await readBack : readBack;
      const terms: Record<string, number> = {};
      for (let i = 0; i < names.length; i++) {
        const term = values[alone ? 0 : i + 1]!;
        if (!Number.isFinite(term)) throw new NonFiniteLossError(names[i]!, step, epoch, term);
        terms[names[i]!] = term;
      }
      const loss = values[0]!;
      if (!Number.isFinite(loss)) throw new NonFiniteLossError('total', step, epoch, loss);
      this.optimizer.applyGradients(grads);
      this.globalStep++;
      if (hooks.afterStep.length > 0) {
        const after: AfterStepOutputs = this.guardTeacher({ ...outputs!, terms });
        for (const slot of hooks.afterStep) {
          const done = slot.plugin.afterStep!(after, contextFor(slot));
          if (done !== undefined) await done;
        }
      }
      return { loss, terms };
    } finally {
      tf.dispose(kept);
      tf.engine().endScope();
    }
  }

  /** The plugins of each step hook, in the order they run (made once: plugins are fixed by the first fit). */
  private hooks(): StepHooks {
    if (this.stepHooks) return this.stepHooks;
    const withHook = (hook: 'transformBatch' | 'loss' | 'afterStep') => this.slots.filter((s) => s.plugin[hook] !== undefined);
    this.stepHooks = {
      transformBatch: withHook('transformBatch'),
      loss: withHook('loss'),
      afterStep: withHook('afterStep').reverse(),
      hardLabels: this.slots.filter((s) => s.plugin.labels === 'hard').map((s) => s.plugin.name),
      teacherNeeded: this.teacherNeeded(),
    };
    return this.stepHooks;
  }

  private currentLearningRate(): number {
    return (this.optimizer as OptimizerWithRate).learningRate ?? Number.NaN;
  }

  private setLearningRate(rate: number): void {
    if (!(Number.isFinite(rate) && rate >= 0)) {
      throw new DistillationError('bad-learning-rate', `Learning-rate schedule returned ${rate} at step ${this.globalStep}`);
    }
    const optimizer = this.optimizer as OptimizerWithRate;
    if (typeof optimizer.setLearningRate === 'function') optimizer.setLearningRate(rate);
    else if (typeof optimizer.learningRate === 'number') optimizer.learningRate = rate;
    else {
      throw new DistillationError('bad-optimizer', `The optimizer ${optimizer.getClassName()} has no learning rate to schedule`);
    }
  }
}

/** Whether `value` is a Promise or another thenable (awaited; a plain value is used as it is, without a turn). */
function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** In-memory data's example ids: the positions, as a plain array (a loop: `Array.from` of a typed array is ~10x slower). */
function positionIds(indices: Int32Array): number[] {
  const ids = new Array<number>(indices.length);
  for (let i = 0; i < indices.length; i++) ids[i] = indices[i]!;
  return ids;
}

/**
 * The teacher's outputs for the plugins: a prediction with its own `logProbabilities` (an
 * ensemble's, a custom teacher's) as it is; otherwise `logProbabilities(T)` is
 * `logSoftmax(logits / T)`, one fused kernel where the backend has it (see `logSoftmaxAt`).
 */
function withLogProbabilities(prediction: TeacherPrediction): TeacherOutputs {
  if (typeof prediction.logProbabilities === 'function') return toTeacherOutputs(prediction);
  return { ...prediction, logProbabilities: (temperature: number) => logSoftmaxAt(prediction.logits, temperature) };
}

/**
 * The step's total loss, `sum_i weights[i] * terms[i]` (a missing weight is 1), with its own
 * gradient: `dy * weights[i]` for each term. Values and gradients are those of `tf.mul` and
 * `tf.addN` (the same float32 products and sums), without their backward kernels: `tf.mul`'s
 * gradient also casts the weight and `tf.addN`'s copies `dy` per term.
 */
export function weightedTotal(terms: readonly tf.Scalar[], weights: readonly (tf.Scalar | undefined)[]): tf.Scalar {
  if (terms.length === 1 && weights[0] === undefined) return terms[0]!;
  const total = tf.customGrad(((...args: unknown[]) => {
    const inputs = args.slice(0, terms.length) as tf.Scalar[];
    const products = inputs.map((t, i) => (weights[i] ? tf.mul(t, weights[i]!) : t)) as tf.Scalar[];
    const value = (
      products.length === 1 ? products[0]! : products.length === 2 ? tf.add(products[0]!, products[1]!) : tf.addN(products)
    ) as tf.Scalar;
    return {
      value,
      gradFunc: (dy: tf.Tensor) => inputs.map((_, i) => (weights[i] ? tf.mul(dy, weights[i]!) : tf.clone(dy))),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (...terms: tf.Scalar[]) => tf.Scalar;
  return total(...terms);
}

/** Backends whose tensors live in host memory: a scalar read there is a copy, not a device round trip. */
const HOST_BACKENDS = new Set(['cpu', 'wasm', 'tensorflow']);

/**
 * The values of `scalars`, in order. On a host-memory backend each is read directly (no kernel);
 * elsewhere they are stacked and read once, one device round trip for all (a Promise then).
 */
function readScalars(scalars: readonly tf.Scalar[]): Float32Array | Promise<Float32Array> {
  if (HOST_BACKENDS.has(tf.getBackend())) {
    const values = new Float32Array(scalars.length);
    for (let i = 0; i < scalars.length; i++) values[i] = scalars[i]!.dataSync()[0]!;
    return values;
  }
  return tf.stack(scalars as tf.Scalar[]).data() as Promise<Float32Array>;
}

/**
 * `tf.variableGrads`, freeing what the tape saved for the backward pass when the forward pass
 * throws (a plugin's loss, a bad input). tfjs keeps those tensors until backprop, so without this
 * every failed step would leak them.
 */
function gradientsOrFreeTape(f: () => tf.Scalar, variables: tf.Variable[]): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  try {
    return withLeanSaves(() => tf.variableGrads(f, variables));
  } catch (error) {
    freeAbandonedTape();
    throw error;
  }
}

/** The private engine fields {@link freeAbandonedTape} relies on (tfjs-core 4.x). */
interface TapeState {
  gradientDepth: number;
  activeTape?: { saved?: tf.Tensor[] }[];
}

/**
 * Whether this tfjs has the private engine fields kd uses to free a failed step's tape
 * (`engine().state.gradientDepth` and `activeTape`). Checked, never assumed: on a tfjs without
 * them kd leaves the tape alone (a failed step may then leak what it saved), and a test fails
 * loudly so the peer range is not widened blindly.
 */
export function canFreeAbandonedTape(): boolean {
  const state = tf.engine().state as unknown as Partial<TapeState>;
  return typeof state.gradientDepth === 'number' && (state.activeTape === undefined || Array.isArray(state.activeTape));
}

/**
 * tfjs keeps the tensors a tape saved until backprop, so when the forward pass throws (a
 * plugin's loss, a bad input) they would leak; outside any other gradient scope, dispose them
 * and reset the tape. A private field of tfjs: feature-detected by {@link canFreeAbandonedTape}.
 */
function freeAbandonedTape(): void {
  if (!canFreeAbandonedTape()) return;
  const state = tf.engine().state as unknown as TapeState;
  if (state.gradientDepth !== 0) return;
  for (const node of state.activeTape ?? []) for (const t of node.saved ?? []) t.dispose();
  state.activeTape = [];
}
