import { DistillationError, optionsSchema, parseOptions } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import type { CrdCriticResult, CrdCriticState } from './critic';
import { type SavedNormalisers, savedNormalisers } from './criticCheckpoint';
import { createCriticModules, headTensors } from './criticHeads';
import { EmbeddingQueue, type EmbeddingQueueState } from './embeddingQueue';
import type { EmbedHead } from './embedHead';
import { CrdError } from './errors';
import { queueContrastLogits } from './nce';
import { nameSchema, positiveInt, seedSchema, temperatureSchema } from './options';
import type { QueueContrastIndices } from './queueSampler';
import { symmetricNceLoss } from './symmetricNce';

/** Options of {@link CrdQueueCritic}. */
export interface CrdQueueCriticOptions {
  /** Flattened size of the student's tapped feature. */
  readonly studentDim: number;
  /** Flattened size of the teacher's tapped feature. */
  readonly teacherDim: number;
  /** N, the number of training examples (the NCE noise distribution `Pn = 1/N` and Z's scale). */
  readonly dataSize: number;
  /** K, the entries per queue (= the negatives of every anchor). */
  readonly queueSize: number;
  /** Embedding size `feat_dim`. Default 128. */
  readonly featureDim?: number;
  /** Temperature `nce_t`. Default 0.07. */
  readonly temperature?: number;
  /** Seed of the heads' and queues' initialisation. Default 0. */
  readonly seed?: number;
  /** Prefix of the variable names. Default `crd`. */
  readonly name?: string;
}

/** Schema of {@link CrdQueueCriticOptions} (defaults applied). */
export const crdQueueCriticSchema = optionsSchema<CrdQueueCriticOptions>()({
  studentDim: positiveInt(),
  teacherDim: positiveInt(),
  dataSize: positiveInt(),
  queueSize: positiveInt(),
  featureDim: positiveInt().default(128),
  temperature: temperatureSchema.default(0.07),
  seed: seedSchema.default(0),
  name: nameSchema.default('crd'),
});

/** The tensor names of a {@link CrdQueueCritic}'s checkpoint. */
const TENSORS = ['embed_s/kernel', 'embed_s/bias', 'embed_t/kernel', 'embed_t/bias', 'queue/student', 'queue/teacher'] as const;

/** Serialisable state of a queue critic: heads and queues (tensors), Z, the queue's ids and pointer (JSON). */
export interface CrdQueueCriticState {
  readonly tensors: Record<string, tf.Tensor>;
  readonly json: CrdCriticState['json'] & { readonly ids: number[]; readonly pointer: number };
}

/** A queue critic's checkpoint as {@link CrdQueueCritic.checkState} accepted it. */
export interface CheckedQueueState {
  readonly queue: EmbeddingQueueState;
  readonly z: SavedNormalisers;
}

/**
 * One CRD critic with queue memory: a student and a teacher {@link EmbedHead}, an
 * {@link EmbeddingQueue} of the last K embeddings per side (memory `2*K*d*4` bytes instead of the
 * banks' `2*N*d*4`), and the two normalisers Z, estimated on the first batch and then frozen.
 *
 * Symmetric loss, as with the banks: the student anchor `v_s` is scored against the TEACHER queue
 * with the teacher's embedding `v_t` of the same example as its positive, the teacher anchor
 * against the STUDENT queue with `v_s` as its positive (positives and entries are constants for
 * the gradient); each side's NCE loss (`m = K`, `Pn = 1/N`, eps 1e-7) is computed on
 * `exp(score/T)/Z`, and the two are summed. After the optimizer step, {@link update} enqueues the
 * batch's embeddings (the oldest entries leave).
 */
export class CrdQueueCritic {
  readonly studentHead: EmbedHead;
  readonly teacherHead: EmbedHead;
  readonly queue: EmbeddingQueue;
  readonly dataSize: number;
  readonly queueSize: number;
  readonly featureDim: number;
  readonly temperature: number;
  /** Z of the student side (student anchors vs teacher queue); null until the first batch. */
  zStudent: number | null = null;
  /** Z of the teacher side (teacher anchors vs student queue); null until the first batch. */
  zTeacher: number | null = null;

  constructor(options: CrdQueueCriticOptions) {
    const parsed = parseOptions(crdQueueCriticSchema, options, 'CrdQueueCritic');
    this.featureDim = parsed.featureDim;
    this.temperature = parsed.temperature;
    this.dataSize = parsed.dataSize;
    this.queueSize = parsed.queueSize;
    const modules = createCriticModules(
      parsed,
      parsed.seed,
      parsed.name,
      (seed) => new EmbeddingQueue(parsed.queueSize, this.featureDim, { seed, name: `${parsed.name}_queue` }),
    );
    this.studentHead = modules.studentHead;
    this.teacherHead = modules.teacherHead;
    this.queue = modules.memory;
  }

  /** The heads' trainable variables. */
  get variables(): tf.Variable[] {
    return [...this.studentHead.variables, ...this.teacherHead.variables];
  }

  /**
   * The symmetric NCE loss of one batch (call inside the gradient tape). On the first call it
   * estimates and freezes both Z (one synchronous read).
   *
   * @param studentFeatures tapped student features `[B, ...]` (gradients flow).
   * @param teacherFeatures tapped teacher features `[B, ...]` (constants).
   * @param sample the batch's ids and queue negatives from `queueNegatives`.
   */
  loss(studentFeatures: tf.Tensor, teacherFeatures: tf.Tensor, sample: QueueContrastIndices): CrdCriticResult {
    const b = sample.index.length;
    for (const [what, f] of [
      ['student', studentFeatures],
      ['teacher', teacherFeatures],
    ] as const) {
      if (!(f instanceof tf.Tensor) || f.shape[0] !== b) {
        throw new CrdError(
          'bad-contrast',
          `CRD (queue): ${what} features have ${f instanceof tf.Tensor ? f.shape[0] : 'no'} rows for ${b} sample indices`,
        );
      }
    }
    if (sample.negatives.length !== this.queueSize) {
      throw new CrdError(
        'bad-contrast',
        `CRD (queue): ${sample.negatives.length} negatives for a queue of K = ${this.queueSize} entries (expected one position per entry)`,
      );
    }
    // One scope: a throw part-way (a feature of the wrong size, a non-finite Z) leaves no tensor behind.
    return tf.tidy(() => {
      const vS = this.studentHead.apply(studentFeatures);
      const vT = this.teacherHead.apply(teacherFeatures);
      // Student anchors against the teacher queue (positive: v_t), teacher anchors against the student queue (positive: v_s).
      const outS = queueContrastLogits(this.queue.teacher, vS, vT, sample.negatives, this.temperature);
      const outT = queueContrastLogits(this.queue.student, vT, vS, sample.negatives, this.temperature);
      return symmetricNceLoss(this, outS, outT, this.dataSize, vS, vT);
    });
  }

  /** Enqueues the batch's embeddings into both queues (no gradient). */
  update(index: Int32Array, studentEmbedding: tf.Tensor2D, teacherEmbedding: tf.Tensor2D): void {
    this.queue.enqueue(index, studentEmbedding, teacherEmbedding);
  }

  /** Heads, queues, Z, ids and pointer for a checkpoint. Tensors are the live variables: read, do not dispose. */
  state(): CrdQueueCriticState {
    const queue = this.queue.state();
    return {
      tensors: {
        ...headTensors(this.studentHead, this.teacherHead),
        'queue/student': queue.student,
        'queue/teacher': queue.teacher,
      },
      json: { zStudent: this.zStudent, zTeacher: this.zTeacher, ids: Array.from(queue.ids), pointer: queue.pointer },
    };
  }

  /**
   * Throws `checkpoint-mismatch` unless {@link loadState} would succeed on `state` (every tensor
   * there, of this critic's shapes; the queue's ids in `[-1, N)` and its pointer in `[0, K)`; Z
   * null or finite > 0). Changes nothing.
   */
  checkState(state: { tensors: Readonly<Record<string, tf.Tensor>>; json?: unknown }, where = 'CRD (queue)'): CheckedQueueState {
    const t = state.tensors;
    const missing = TENSORS.filter((k) => !(t[k] instanceof tf.Tensor));
    if (missing.length > 0) {
      throw new DistillationError('checkpoint-mismatch', `${where}: checkpoint lacks ${missing.join(', ')}`);
    }
    const json = (state.json ?? {}) as { ids?: unknown; pointer?: unknown };
    if (!Array.isArray(json.ids) || typeof json.pointer !== 'number') {
      throw new DistillationError(
        'checkpoint-mismatch',
        `${where}: checkpoint lacks the queue's ids and pointer (a checkpoint of memory: 'banks'?)`,
      );
    }
    for (const [what, head, kernel, bias] of [
      ['embed_s', this.studentHead, t['embed_s/kernel']!, t['embed_s/bias']!],
      ['embed_t', this.teacherHead, t['embed_t/kernel']!, t['embed_t/bias']!],
    ] as const) {
      if (
        kernel.rank !== 2 ||
        kernel.shape[0] !== head.inputDim ||
        kernel.shape[1] !== head.outputDim ||
        bias.rank !== 1 ||
        bias.shape[0] !== head.outputDim
      ) {
        throw new DistillationError(
          'checkpoint-mismatch',
          `${where}: ${what} must be kernel [${head.inputDim}, ${head.outputDim}] and bias [${head.outputDim}], got [${kernel.shape}] and [${bias.shape}]`,
        );
      }
    }
    const queue: EmbeddingQueueState = {
      student: t['queue/student'] as tf.Tensor2D,
      teacher: t['queue/teacher'] as tf.Tensor2D,
      ids: json.ids as number[],
      pointer: json.pointer,
    };
    this.queue.checkState(queue, this.dataSize, `${where}: queue`);
    return { queue, z: savedNormalisers(state.json, where) };
  }

  /**
   * Restores {@link state}'s output (tensors are copied; the caller keeps ownership). Everything is
   * checked first ({@link checkState}): a bad state throws and leaves the critic as it was.
   */
  loadState(state: { tensors: Readonly<Record<string, tf.Tensor>>; json?: unknown }): void {
    this.assignState(state.tensors, this.checkState(state));
  }

  /** Assigns a state {@link checkState} accepted. */
  assignState(t: Readonly<Record<string, tf.Tensor>>, checked: CheckedQueueState): void {
    this.queue.loadState(checked.queue, this.dataSize);
    this.studentHead.setWeights(t['embed_s/kernel']!, t['embed_s/bias']!);
    this.teacherHead.setWeights(t['embed_t/kernel']!, t['embed_t/bias']!);
    this.zStudent = checked.z.zStudent;
    this.zTeacher = checked.z.zTeacher;
  }

  /** Frees heads and queues. */
  dispose(): void {
    this.studentHead.dispose();
    this.teacherHead.dispose();
    this.queue.dispose();
  }
}
