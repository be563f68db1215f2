import type * as tf from '@tensorflow/tfjs-core';
import type { Batch } from './batch';
import type { SeededRandom } from './random';
import type { WeightSchedule } from './weightSchedules';

/**
 * Outputs of one model (student or teacher) for one batch.
 *
 * `logits` is the model's first output, `[batch, classes]`. `features` holds the outputs of the
 * layers named in the plugins' {@link PluginTaps}, keyed by layer name.
 */
export interface ModelOutputs {
  /** Logits `[batch, classes]` (pre-softmax). */
  readonly logits: tf.Tensor2D;
  /** Tapped layer outputs, keyed by layer name. */
  readonly features: Readonly<Record<string, tf.Tensor>>;
}

/**
 * Teacher outputs: computed once per step OUTSIDE the gradient tape (teachers are frozen).
 *
 * Methods that need the teacher's distribution at a temperature call `logProbabilities(T)`,
 * never `logSoftmax(logits / T)`: for one teacher they are the same, but an ensemble combines its
 * members' distributions AT T (its `logits` are the combination at T = 1), and other teachers
 * (specialist ensembles, stored outputs) define their own.
 */
export interface TeacherOutputs extends ModelOutputs {
  /** The teacher's log-probabilities at `temperature`, `[batch, classes]` (valid during the step). */
  logProbabilities(temperature: number): tf.Tensor2D;
}

/**
 * What a {@link Teacher}'s `predict` returns: outputs, optionally with their own
 * `logProbabilities` (default `logSoftmax(logits / T)`; see `toTeacherOutputs`).
 */
export interface TeacherPrediction extends ModelOutputs {
  logProbabilities?(temperature: number): tf.Tensor2D;
}

/** How an ensemble combines its members' distributions. */
export type EnsembleMean = 'arithmetic' | 'geometric';

/** What a plugin's `loss` hook sees. Everything here is valid only during the current step. */
export interface StepOutputs {
  /** Student outputs, computed inside the tape (gradients flow through them). */
  readonly student: ModelOutputs;
  /**
   * Teacher outputs, constants for the tape. Absent when the Distiller has no teacher, or when no
   * plugin declares `needsTeacher` or teacher taps (the teacher is then not run at all).
   */
  readonly teacher?: TeacherOutputs;
  /** The batch after every plugin's `transformBatch`. */
  readonly batch: Batch;
}

/** What `afterStep` sees: the step's outputs plus the value of every weighted term. */
export interface AfterStepOutputs extends StepOutputs {
  /** Unweighted value of every loss term of the step, keyed by term name. */
  readonly terms: Readonly<Record<string, number>>;
}

/** Layer names a plugin needs tapped, from the student and the teacher. */
export interface PluginTaps {
  readonly student?: readonly string[];
  readonly teacher?: readonly string[];
}

/** Passed to `setup`: everything a plugin needs to size its heads, banks and regressors. */
export interface SetupContext {
  /** Number of examples in the training data (`N` of a memory bank). */
  readonly dataSize: number;
  /** Number of classes (the logits' last dimension). */
  readonly numClasses: number;
  /** Shapes of the tapped student layers (batch dimension `null`), keyed by layer name. */
  readonly studentShapes: Readonly<Record<string, readonly (number | null)[]>>;
  /** Shapes of the tapped teacher layers (batch dimension `null`), keyed by layer name. */
  readonly teacherShapes: Readonly<Record<string, readonly (number | null)[]>>;
  /** Integer class labels of the training data `[N]` when present (CRD's class-aware sampling). */
  readonly labels?: Int32Array;
  /** Seeded random source of this run; use it for every random choice so runs reproduce. */
  readonly random: SeededRandom;
}

/** Passed to the per-step hooks. */
export interface StepContext<State> {
  readonly state: State;
  /** Zero-based epoch. */
  readonly epoch: number;
  /** Global step count (zero-based, counts over epochs). */
  readonly step: number;
  readonly random: SeededRandom;
  /**
   * Keeps a tensor created inside `loss` alive until the end of the step (after `afterStep`),
   * then disposes it. Use it to hand embeddings from `loss` to `afterStep`.
   */
  keep<T extends tf.Tensor>(tensor: T): T;
}

/** Passed to `onEpochStart` / `onEpochEnd`. */
export interface EpochContext<State> {
  readonly state: State;
  readonly epoch: number;
  /** Logs of the epoch (mean term values, validation metrics); empty at epoch start. */
  readonly logs: Readonly<Record<string, number>>;
}

/** Serialisable plugin state for checkpoints: named tensors plus plain JSON. */
export interface PluginCheckpoint {
  readonly tensors: Readonly<Record<string, tf.Tensor>>;
  readonly json?: unknown;
}

/** A loss hook returns one scalar (named after the plugin) or several named scalars. */
export type LossTerms = tf.Scalar | Readonly<Record<string, tf.Scalar>>;

/**
 * A distillation method: a typed object of optional hooks, composed by the {@link Distiller}
 * in `use()` order (after-hooks in reverse).
 *
 * Hooks and where they run:
 * - `setup` once before training (async allowed): create heads, banks, regressors; return state.
 * - `variables(state)`: trainable variables this plugin adds; trained with the student.
 * - `transformBatch` outside the tape, in `use()` order (async allowed).
 * - `loss` INSIDE the tape, synchronous: named scalar terms, each multiplied by `weight`.
 * - `afterStep` outside the tape, reverse order (memory-bank updates, statistics).
 * - `onEpochStart` / `onEpochEnd`, `state` / `loadState` (checkpoints), `dispose`.
 */
export interface DistillationPlugin<State = unknown> {
  /** Unique name within a Distiller; also the default name of its loss term. */
  readonly name: string;
  /**
   * Weight of every term this plugin returns (default 1): a number >= 0, or a declarative
   * {@link WeightSchedule} of the epoch (`linearWarmupWeight`, `stepWeight`, `cosineWeight`).
   */
  readonly weight?: number | WeightSchedule;
  /** How `describe()` prints the term, e.g. `kd(T=4)`; defaults to `name`. */
  readonly label?: string;
  /**
   * Whether the plugin reads teacher outputs (default false). The Distiller runs the teacher only
   * when some plugin says so (or taps teacher layers); `use()` rejects it without a teacher.
   */
  readonly needsTeacher?: boolean;
  readonly taps?: PluginTaps;
  /**
   * Whether the plugin reads the batch's labels, and how: `'targets'` uses the soft
   * `batch.targets` when a transform set them (else `y`); `'hard'` needs integer labels, so the
   * Distiller refuses a batch with targets (`soft-targets-unsupported`) instead of silently
   * training on the unmixed `y`. Leave it unset when the plugin does not read labels.
   */
  readonly labels?: 'targets' | 'hard';
  /**
   * Whether `transformBatch` changes what the teacher sees (`teacherX`, or `x` when there is no
   * `teacherX`): augmentation, MixUp. Teacher outputs kept from earlier epochs (the cache) or
   * computed ahead of training (stored teachers) do not hold for changed inputs, so the Distiller
   * turns the cache off up front when a plugin declares it, and says so in `fit-start`. Default
   * false. (A transform that changes the inputs without declaring it is still caught, step by
   * step, and those steps run the teacher.)
   */
  readonly changesTeacherInput?: boolean;
  /**
   * The fewest examples a batch must hold for this plugin's loss (methods on relations between
   * examples need 2 or 3). `fit` refuses, before any work, a batch size or a last partial batch
   * that is smaller (`batch-too-small`). Default: no minimum.
   */
  readonly minimumBatch?: number;
  setup?(context: SetupContext): State | Promise<State>;
  variables?(state: State): tf.Variable[];
  transformBatch?(batch: Batch, context: StepContext<State>): Batch | Promise<Batch>;
  /**
   * The plugin's loss term(s), computed inside the step's gradient tape (synchronously). First
   * order only: the tape keeps saved tensors as shared handles (`withLeanSaves`), so a loss must
   * not take gradients itself.
   */
  loss?(outputs: StepOutputs, context: StepContext<State>): LossTerms;
  afterStep?(outputs: AfterStepOutputs, context: StepContext<State>): void | Promise<void>;
  onEpochStart?(context: EpochContext<State>): void | Promise<void>;
  onEpochEnd?(context: EpochContext<State>): void | Promise<void>;
  state?(state: State): PluginCheckpoint;
  loadState?(state: State, checkpoint: PluginCheckpoint): void;
  dispose?(state: State): void;
}

/**
 * Identity helper that infers a plugin's state type, so hooks are checked against `setup`'s
 * return type.
 */
export function definePlugin<State>(plugin: DistillationPlugin<State>): DistillationPlugin<State> {
  return plugin;
}
