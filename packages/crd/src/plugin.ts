import {
  DistillationError,
  type DistillationPlugin,
  definePlugin,
  optionsSchema,
  type PluginCheckpoint,
  parseOptions,
  type SeededRandom,
  type SetupContext,
  weightSchema,
} from '@kd/core';
import type * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { CrdCritic } from './critic';
import { criticTensors, mergeCriticStates } from './criticCheckpoint';
import { type CriticSpec, createCritics, criticTaps } from './criticSetup';
import { criticStepHooks } from './criticSteps';
import { CrdError } from './errors';
import type { ScoringStrategy } from './nce';
import { momentumSchema, nameSchema, positiveInt, positiveSchema, scoringSchema, tapSchema, temperatureSchema } from './options';
import { CrdQueueCritic } from './queueCritic';
import { type QueueContrastIndices, queueNegatives } from './queueSampler';
import { type ContrastSample, NegativeSampler, type PositiveMode } from './sampler';

/** Negative sampling of the CRD plugin. */
export type CrdSampling = 'reference' | 'shared';

/**
 * What CRD remembers between steps: `'banks'` (the reference) two `[N, featureDim]` memory banks,
 * one row per training example; `'queue'` (MoCo-style) two first-in-first-out queues of the last
 * `queueSize` embeddings, `O(K*d)` memory whatever N.
 */
export type CrdMemory = 'banks' | 'queue';

/** Options shared by {@link crd} and {@link crdEnsemble}. */
export interface CrdCommonOptions {
  /** Embedding size `feat_dim`. Default 128. */
  readonly featureDim?: number;
  /** Negatives per anchor K (`nce_k`). Default 16384; must be < N. */
  readonly negatives?: number;
  /** Temperature `nce_t`. Default 0.07. */
  readonly temperature?: number;
  /** Bank momentum `nce_m`. Default 0.5. */
  readonly momentum?: number;
  /** Weight of the term (RepDistiller beta: 0.8). Default 1. */
  readonly weight?: number;
  /**
   * `'reference'` (default): K negatives per anchor, drawn from other classes when labels are
   * known (RepDistiller). `'shared'`: the named CPU/browser VARIANT: one set of K negatives per
   * batch, scored by one `[B, d] x [d, K]` matmul (B times cheaper; not class-aware, not the paper).
   */
  readonly sampling?: CrdSampling;
  /** `'exact'` (default, positive = the example) or `'relax'` (a random same-class example). */
  readonly positive?: PositiveMode;
  /** Draw reference negatives from other classes when the labels are known. Default true. */
  readonly classAware?: boolean;
  /**
   * How reference (per-anchor) scores are computed; same values. `'gather'` (default) gathers
   * `[B, K+1, d]` bank rows like the reference; `'dense'` scores all N rows with one matmul and
   * picks K per anchor (far less memory when N < K d, but B*N*d multiply-adds: slower on the cpu
   * backend at N = 60000, see the README's benchmark).
   */
  readonly scoring?: ScoringStrategy;
  /** Plugin and loss-term name. Default `crd` (`crd-en` for {@link crdEnsemble}). */
  readonly name?: string;
  /**
   * `'banks'` (default, the reference): two `[N, featureDim]` memory banks. `'queue'`: two FIFO
   * queues of the last `queueSize` embeddings replace them (memory `2*queueSize*featureDim*4`
   * bytes, independent of N); every anchor is scored against all K entries of the other side's
   * queue (entries of the batch's own examples replaced by other entries), its positive is the
   * other side's embedding of the same example, and the NCE noise constant stays `m Pn = K/N`.
   * Queue mode refuses the bank-only options (`negatives`, `momentum`, `sampling`, `scoring`,
   * `classAware: true`, `positive: 'relax'`) with `queue-incompatible`.
   */
  readonly memory?: CrdMemory;
  /**
   * K, the entries per queue (= negatives per anchor) of `memory: 'queue'`: required there, refused
   * with the banks. An integer > 0 and < N (checked in `setup`, `too-many-negatives`); best larger
   * than two batches.
   */
  readonly queueSize?: number;
}

/** Options of {@link crd}. */
export interface CrdOptions extends CrdCommonOptions {
  /** Student layer to tap: the pooled penultimate feature. */
  readonly student: string;
  /** Teacher layer to tap (for an `ensembleTeacher`: `"<member>/<layer>"`). */
  readonly teacher: string;
  /** Expected flattened student feature size; checked against the tapped layer when given. */
  readonly studentDim?: number;
  /** Expected flattened teacher feature size; checked against the tapped layer when given. */
  readonly teacherDim?: number;
}

/** One critic of {@link crdEnsemble}: a student tap and a teacher tap. */
export interface CrdEnsembleMember {
  /** Student layer to tap. */
  readonly student: string;
  /** Teacher layer, `"<member>/<layer>"` for an `ensembleTeacher`. */
  readonly teacher: string;
  readonly studentDim?: number;
  readonly teacherDim?: number;
}

const commonShape = (name: string) => ({
  featureDim: positiveInt().default(128),
  negatives: positiveInt().default(16384),
  temperature: temperatureSchema.default(0.07),
  momentum: momentumSchema.default(0.5),
  weight: weightSchema.default(1),
  sampling: z.enum(['reference', 'shared'], { message: "must be 'reference' or 'shared'" }).default('reference'),
  positive: positiveSchema.default('exact'),
  classAware: z.boolean({ message: 'must be a boolean' }).default(true),
  scoring: scoringSchema.default('gather'),
  name: nameSchema.default(name),
  memory: z.enum(['banks', 'queue'], { message: "must be 'banks' or 'queue'" }).default('banks'),
  queueSize: positiveInt().optional(),
});

const studentTap = tapSchema('a tapped student layer (the pooled penultimate feature)');
const teacherTap = tapSchema('a tapped teacher layer (the pooled penultimate feature)');

/** Schema of {@link CrdOptions} (defaults applied). */
export const crdSchema = optionsSchema<CrdOptions>()({
  ...commonShape('crd'),
  student: studentTap,
  teacher: teacherTap,
  studentDim: positiveInt().optional(),
  teacherDim: positiveInt().optional(),
});

/** Schema of one {@link CrdEnsembleMember}. */
export const crdEnsembleMemberSchema = optionsSchema<CrdEnsembleMember>()({
  student: studentTap,
  teacher: teacherTap,
  studentDim: positiveInt().optional(),
  teacherDim: positiveInt().optional(),
});

/** Schema of the members of {@link crdEnsemble}, as `{ members }`. */
export const crdEnsembleMembersSchema = z.strictObject({
  members: z
    .array(crdEnsembleMemberSchema, { message: 'must be a list of { student, teacher } members' })
    .min(1, { message: 'needs at least one { student, teacher } member' }),
});

/** Schema of the options of {@link crdEnsemble} ({@link CrdCommonOptions}, defaults applied). */
export const crdEnsembleSchema = optionsSchema<CrdCommonOptions>()(commonShape('crd-en'));

type ParsedCommon = z.output<typeof crdEnsembleSchema>;

/** State of a CRD plugin with memory banks (one critic per teacher). */
export interface CrdState {
  readonly memory: 'banks';
  readonly critics: readonly CrdCritic[];
  readonly sampler: NegativeSampler;
  readonly sampling: CrdSampling;
  /** Contrast indices drawn by `transformBatch` for the current step. */
  pending?: { readonly step: number; readonly sample: ContrastSample };
  /** Embeddings handed from `loss` to `afterStep`. */
  embeddings?: { readonly step: number; readonly sample: ContrastSample; readonly pairs: [tf.Tensor2D, tf.Tensor2D][] };
}

/** State of a CRD plugin with queue memory (one critic, with its own queues, per teacher). */
export interface CrdQueueState {
  readonly memory: 'queue';
  readonly critics: readonly CrdQueueCritic[];
  /** N, the training examples (batch indices are checked against it). */
  readonly dataSize: number;
  /** Queue negatives drawn by `transformBatch` for the current step. */
  pending?: { readonly step: number; readonly sample: QueueContrastIndices };
  /** Embeddings handed from `loss` to `afterStep` (enqueued there). */
  embeddings?: { readonly step: number; readonly sample: QueueContrastIndices; readonly pairs: [tf.Tensor2D, tf.Tensor2D][] };
}

/**
 * Contrastive Representation Distillation (Tian, Krishnan, Isola 2019; docs/methods.md §8) as a
 * plugin: embedding heads on the tapped pooled penultimate layers of student and teacher, a memory
 * bank of N x featureDim per side, K negatives per anchor, NCE loss with Z frozen after the first
 * batch, symmetric (student + teacher side). Term `crd`.
 *
 * Needs the sample index of every example: `@kd/core` batches carry `batch.index`. Works across
 * modalities: give `LabeledData.teacherX` and the teacher sees it while the student sees `x`.
 *
 * Reference defaults: featureDim 128, negatives 16384, temperature 0.07, momentum 0.5; RepDistiller
 * weights: CRD alone `hardLabel 1 + 0.8 crd`, CRD+KD `hardLabel 1 + softTargets 1 + 0.8 crd`.
 *
 * `memory: 'queue'` (label `crd(queue)`) replaces the two banks with two FIFO queues of the last
 * `queueSize` embeddings (memory `O(K*d)`, not `O(N*d)`): every anchor is scored against all K
 * entries of the other side's queue, entries of the batch's own examples replaced by other entries;
 * see {@link CrdCommonOptions.memory}.
 *
 * @example
 * distiller.use(crd({ student: 'pool', teacher: 'pool', negatives: 4096, weight: 0.8 }));
 * distiller.use(crd({ student: 'pool', teacher: 'pool', memory: 'queue', queueSize: 4096, weight: 0.8 }));
 */
export function crd(options: CrdOptions & { readonly memory: 'queue' }): DistillationPlugin<CrdQueueState>;
export function crd(options: CrdOptions & { readonly memory?: 'banks' }): DistillationPlugin<CrdState>;
export function crd(options: CrdOptions): DistillationPlugin<CrdState | CrdQueueState>;
export function crd(options: CrdOptions): DistillationPlugin<CrdState | CrdQueueState> {
  const { student, teacher, studentDim, teacherDim, ...common } = parseOptions(crdSchema, options, 'crd');
  checkMemoryOptions(options, common, 'crd');
  return crdPlugin([{ student, teacher, studentDim, teacherDim, label: common.name }], common, false);
}

/**
 * CRD-EN: several teachers, one critic (heads + banks + Z) per teacher, their terms summed (each
 * is reported as `<name>/<i>` and weighted by `weight`). All critics score the same contrast
 * indices of a batch. Use it with an `ensembleTeacher`, whose taps are `"<member>/<layer>"`.
 *
 * @example
 * const teacher = ensembleTeacher([t0, t1]);
 * distiller.use(crdEnsemble([{ student: 'pool', teacher: '0/pool' }, { student: 'pool', teacher: '1/pool' }], { weight: 0.8 }));
 */
export function crdEnsemble(
  members: readonly CrdEnsembleMember[],
  options: CrdCommonOptions & { readonly memory: 'queue' },
): DistillationPlugin<CrdQueueState>;
export function crdEnsemble(
  members: readonly CrdEnsembleMember[],
  options?: CrdCommonOptions & { readonly memory?: 'banks' },
): DistillationPlugin<CrdState>;
export function crdEnsemble(
  members: readonly CrdEnsembleMember[],
  options?: CrdCommonOptions,
): DistillationPlugin<CrdState | CrdQueueState>;
export function crdEnsemble(
  members: readonly CrdEnsembleMember[],
  options: CrdCommonOptions = {},
): DistillationPlugin<CrdState | CrdQueueState> {
  const parsed = parseOptions(crdEnsembleMembersSchema, { members }, 'crdEnsemble');
  const common = parseOptions(crdEnsembleSchema, options, 'crdEnsemble');
  checkMemoryOptions(options, common, 'crdEnsemble');
  const specs = parsed.members.map((m, i) => ({ ...m, label: `${common.name}/${i}` }));
  return crdPlugin(specs, common, true);
}

/** The options of the banks that queue mode cannot honour, and why. */
const BANK_ONLY: readonly [key: keyof CrdCommonOptions, refused: (value: unknown) => boolean, why: string][] = [
  ['negatives', () => true, "the negatives are the queue's K entries: set queueSize"],
  ['momentum', () => true, 'queue entries are enqueued as they are, with no momentum'],
  ['sampling', () => true, 'every anchor of a batch is scored against the whole queue'],
  ['scoring', () => true, 'queue scores are one [B, d] x [d, K] matmul'],
  ['classAware', (v) => v === true, 'the queue holds the last K embeddings whatever their class (pass classAware: false or leave it out)'],
  ['positive', (v) => v === 'relax', "the positive is the other side's embedding of the example itself"],
];

/** Refuses option combinations of `memory` / `queueSize` that cannot be honoured (before any work). */
function checkMemoryOptions(raw: object, parsed: ParsedCommon, where: string): void {
  const given = raw as Record<string, unknown>;
  if (parsed.memory === 'banks') {
    if (parsed.queueSize !== undefined) {
      throw new DistillationError(
        'bad-option',
        `${where}: option "queueSize" applies to memory: 'queue' only (memory is 'banks', whose negatives are set by "negatives")`,
      );
    }
    return;
  }
  if (parsed.queueSize === undefined) {
    throw new DistillationError('bad-option', `${where}: option "queueSize" (K, the entries per queue) is required with memory: 'queue'`);
  }
  for (const [key, refused, why] of BANK_ONLY) {
    if (key in given && given[key] !== undefined && refused(given[key])) {
      throw new CrdError(
        'queue-incompatible',
        `${where}: option "${key}" (${JSON.stringify(given[key])}) needs the memory banks and is refused with memory: 'queue': ${why}`,
      );
    }
  }
}

function crdPlugin(specs: readonly CriticSpec[], options: ParsedCommon, ensemble: boolean): DistillationPlugin<CrdState | CrdQueueState> {
  if (options.memory === 'queue') return crdQueuePlugin(specs, options, ensemble) as DistillationPlugin<CrdState | CrdQueueState>;
  return crdBankPlugin(specs, options, ensemble) as DistillationPlugin<CrdState | CrdQueueState>;
}

function crdBankPlugin(specs: readonly CriticSpec[], options: ParsedCommon, ensemble: boolean): DistillationPlugin<CrdState> {
  const { name, featureDim, negatives, temperature, momentum, sampling, positive, classAware, scoring } = options;
  const label = `${name}${sampling === 'shared' ? '(shared)' : ''}`;

  const draw = (state: CrdState, index: ArrayLike<number>, random: SeededRandom): ContrastSample =>
    state.sampling === 'shared' ? state.sampler.sampleShared(index, random) : state.sampler.sample(index, random);

  return definePlugin<CrdState>({
    name,
    label,
    weight: options.weight,
    needsTeacher: true,
    taps: criticTaps(specs),

    setup(context: SetupContext): CrdState {
      if (sampling === 'reference' && classAware && !context.labels) {
        throw new CrdError(
          'no-labels',
          `Plugin "${name}": option "classAware" (default true) draws negatives from other classes and needs the training labels, ` +
            'but the data source gives none: give the source its labels, or set classAware: false for uniform negatives',
        );
      }
      const sampler = new NegativeSampler({
        dataSize: context.dataSize,
        negatives,
        labels: context.labels,
        classAware,
        positive,
      });
      const critics = createCritics(
        specs,
        context,
        name,
        (basis) => new CrdCritic({ ...basis, dataSize: context.dataSize, featureDim, temperature, momentum, scoring }),
      );
      return { memory: 'banks', critics, sampler, sampling };
    },

    ...criticStepHooks(specs, name, ensemble, draw),

    state(state): PluginCheckpoint {
      const { tensors, json: z } = mergeCriticStates(state.critics);
      return { tensors, json: { z } };
    },

    loadState(state, checkpoint) {
      // Every critic's part is checked before any is assigned: a bad checkpoint (e.g. a wrong shape
      // in the last critic's bank) throws checkpoint-mismatch and leaves the plugin as it was.
      const json = (checkpoint.json ?? {}) as { z?: unknown };
      if (json.z !== undefined && (!Array.isArray(json.z) || json.z.length !== state.critics.length)) {
        throw new DistillationError(
          'checkpoint-mismatch',
          `Plugin "${name}": the checkpoint's normalisers are not a list of ${state.critics.length} critic(s) (got ${Array.isArray(json.z) ? `${json.z.length}` : JSON.stringify(json.z)})`,
        );
      }
      const z = json.z as unknown[] | undefined;
      const checked = state.critics.map((c, i) => {
        const tensors = criticTensors(checkpoint.tensors, i);
        return { tensors, z: c.checkState({ tensors, json: z?.[i] }, `Plugin "${name}" critic ${i}`) };
      });
      state.critics.forEach((c, i) => {
        c.assignState(checked[i]!.tensors, checked[i]!.z);
      });
    },
  });
}

/**
 * CRD with queue memory (`memory: 'queue'`): one {@link CrdQueueCritic} per critic spec, negatives
 * from {@link queueNegatives} drawn in `transformBatch` (the ids of the queues before this step's
 * enqueue; every critic's queue holds the same ids), embeddings enqueued in `afterStep`.
 */
function crdQueuePlugin(specs: readonly CriticSpec[], options: ParsedCommon, ensemble: boolean): DistillationPlugin<CrdQueueState> {
  const { name, featureDim, temperature } = options;
  const queueSize = options.queueSize!;
  const label = `${name}(queue)`;

  const draw = (state: CrdQueueState, index: ArrayLike<number>, random: SeededRandom): QueueContrastIndices =>
    queueNegatives(state.critics[0]!.queue.ids, index, random, state.dataSize);

  return definePlugin<CrdQueueState>({
    name,
    label,
    weight: options.weight,
    needsTeacher: true,
    taps: criticTaps(specs),

    setup(context: SetupContext): CrdQueueState {
      if (queueSize >= context.dataSize) {
        throw new CrdError(
          'too-many-negatives',
          `Plugin "${name}": option "queueSize" K = ${queueSize} must be smaller than the number of training examples N = ${context.dataSize} ` +
            '(the NCE noise constant is K/N; a queue as large as the data holds every example: use the memory banks)',
        );
      }
      const critics = createCritics(
        specs,
        context,
        name,
        (basis) => new CrdQueueCritic({ ...basis, dataSize: context.dataSize, queueSize, featureDim, temperature }),
      );
      return { memory: 'queue', critics, dataSize: context.dataSize };
    },

    ...criticStepHooks(specs, name, ensemble, draw),

    state(state): PluginCheckpoint {
      const { tensors, json: critics } = mergeCriticStates(state.critics);
      return { tensors, json: { memory: 'queue', critics } };
    },

    loadState(state, checkpoint) {
      const json = (checkpoint.json ?? {}) as { memory?: unknown; critics?: unknown[] };
      if (json.memory !== 'queue' || !Array.isArray(json.critics) || json.critics.length !== state.critics.length) {
        throw new DistillationError(
          'checkpoint-mismatch',
          `Plugin "${name}": the checkpoint is not one of memory: 'queue' with ${state.critics.length} critic(s) ` +
            `(memory ${JSON.stringify(json.memory ?? 'banks')}, ${Array.isArray(json.critics) ? json.critics.length : 'no'} critic states)`,
        );
      }
      // Every critic's part is checked before any is assigned (see the banks' loadState).
      const checked = state.critics.map((c, i) => {
        const tensors = criticTensors(checkpoint.tensors, i);
        return { tensors, state: c.checkState({ tensors, json: json.critics![i] }, `Plugin "${name}" critic ${i}`) };
      });
      state.critics.forEach((c, i) => {
        c.assignState(checked[i]!.tensors, checked[i]!.state);
      });
      state.pending = undefined;
      state.embeddings = undefined;
    },
  });
}
