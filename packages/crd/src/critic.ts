import { DistillationError, optionsSchema, parseOptions } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { type SavedNormalisers, savedNormalisers } from './criticCheckpoint';
import { createCriticModules, headTensors } from './criticHeads';
import type { EmbedHead } from './embedHead';
import { CrdError } from './errors';
import { MemoryBank } from './memoryBank';
import { type ContrastLogits, contrastLogits, type ScoringStrategy, sharedContrastLogits } from './nce';
import { momentumSchema, nameSchema, positiveInt, scoringSchema, seedSchema, temperatureSchema } from './options';
import type { ContrastSample } from './sampler';
import { symmetricNceLoss } from './symmetricNce';

/** Options of {@link CrdCritic}. */
export interface CrdCriticOptions {
  /** Flattened size of the student's tapped feature. */
  readonly studentDim: number;
  /** Flattened size of the teacher's tapped feature. */
  readonly teacherDim: number;
  /** N, number of training examples (bank rows). */
  readonly dataSize: number;
  /** Embedding size `feat_dim`. Default 128. */
  readonly featureDim?: number;
  /** Temperature `nce_t`. Default 0.07. */
  readonly temperature?: number;
  /** Bank momentum `nce_m`. Default 0.5. */
  readonly momentum?: number;
  /** How per-anchor scores are computed (same values). Default `'gather'`. */
  readonly scoring?: ScoringStrategy;
  /** Seed of the heads' and banks' initialisation. Default 0. */
  readonly seed?: number;
  /** Prefix of the variable names. Default `crd`. */
  readonly name?: string;
}

/** Schema of {@link CrdCriticOptions} (defaults applied). */
export const crdCriticSchema = optionsSchema<CrdCriticOptions>()({
  studentDim: positiveInt(),
  teacherDim: positiveInt(),
  dataSize: positiveInt(),
  featureDim: positiveInt().default(128),
  temperature: temperatureSchema.default(0.07),
  momentum: momentumSchema.default(0.5),
  scoring: scoringSchema.default('gather'),
  seed: seedSchema.default(0),
  name: nameSchema.default('crd'),
});

/** The tensor names of a {@link CrdCritic}'s checkpoint. */
const TENSORS = ['embed_s/kernel', 'embed_s/bias', 'embed_t/kernel', 'embed_t/bias', 'bank/student', 'bank/teacher'] as const;

/** What {@link CrdCritic.loss} returns (all tensors owned by the caller's scope). */
export interface CrdCriticResult {
  /** Student side + teacher side. */
  readonly loss: tf.Scalar;
  /** NCE loss of the student anchors against the teacher bank. */
  readonly studentLoss: tf.Scalar;
  /** NCE loss of the teacher anchors against the student bank. */
  readonly teacherLoss: tf.Scalar;
  /** Student embeddings `[B, d]` (for the bank update). */
  readonly studentEmbedding: tf.Tensor2D;
  /** Teacher embeddings `[B, d]` (for the bank update). */
  readonly teacherEmbedding: tf.Tensor2D;
}

/** Serialisable state of a critic: named tensors (heads, banks) and the frozen normalisers. */
export interface CrdCriticState {
  readonly tensors: Record<string, tf.Tensor>;
  readonly json: { readonly zStudent: number | null; readonly zTeacher: number | null };
}

/**
 * One CRD critic (RepDistiller `CRDLoss` + `ContrastMemory`): a student and a teacher
 * {@link EmbedHead}, a {@link MemoryBank}, and the two normalisers Z (one per side), estimated on
 * the first batch and then frozen.
 *
 * Symmetric loss: the student anchor is scored against the TEACHER bank, the teacher anchor against
 * the STUDENT bank, each side's NCE loss is computed on `exp(score/T)/Z`, and the two are summed.
 * After the optimizer step, {@link update} moves the bank rows of the batch towards the new
 * embeddings.
 */
export class CrdCritic {
  readonly studentHead: EmbedHead;
  readonly teacherHead: EmbedHead;
  readonly bank: MemoryBank;
  readonly dataSize: number;
  readonly featureDim: number;
  readonly temperature: number;
  readonly momentum: number;
  readonly scoring: ScoringStrategy;
  /** Z of the student side (student anchors vs teacher bank); null until the first batch. */
  zStudent: number | null = null;
  /** Z of the teacher side (teacher anchors vs student bank); null until the first batch. */
  zTeacher: number | null = null;

  constructor(options: CrdCriticOptions) {
    const parsed = parseOptions(crdCriticSchema, options, 'CrdCritic');
    this.featureDim = parsed.featureDim;
    this.temperature = parsed.temperature;
    this.momentum = parsed.momentum;
    this.scoring = parsed.scoring;
    this.dataSize = parsed.dataSize;
    const modules = createCriticModules(
      parsed,
      parsed.seed,
      parsed.name,
      (seed) => new MemoryBank(parsed.dataSize, this.featureDim, { seed, name: `${parsed.name}_bank` }),
    );
    this.studentHead = modules.studentHead;
    this.teacherHead = modules.teacherHead;
    this.bank = modules.memory;
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
   * @param sample contrast indices of the batch from a `NegativeSampler`.
   */
  loss(studentFeatures: tf.Tensor, teacherFeatures: tf.Tensor, sample: ContrastSample): CrdCriticResult {
    const b = sample.index.length;
    for (const [what, f] of [
      ['student', studentFeatures],
      ['teacher', teacherFeatures],
    ] as const) {
      if (f.shape[0] !== b) {
        throw new CrdError('bad-contrast', `CRD: ${what} features have ${f.shape[0]} rows for ${b} sample indices`);
      }
    }
    // One scope: a throw part-way (a feature of the wrong size, a non-finite Z) leaves no tensor behind.
    return tf.tidy(() => {
      const vS = this.studentHead.apply(studentFeatures);
      const vT = this.teacherHead.apply(teacherFeatures);
      // Student anchors against the teacher bank, teacher anchors against the student bank.
      const outS = this.scores(this.bank.teacher, vS, sample);
      const outT = this.scores(this.bank.student, vT, sample);
      return symmetricNceLoss(this, outS, outT, this.dataSize, vS, vT);
    });
  }

  /** Momentum update of both banks at the batch's own indices (no gradient). */
  update(index: Int32Array, studentEmbedding: tf.Tensor2D, teacherEmbedding: tf.Tensor2D): void {
    this.bank.update(index, studentEmbedding, teacherEmbedding, this.momentum);
  }

  /** Heads, banks and Z for a checkpoint. Tensors are the live variables: read, do not dispose. */
  state(): CrdCriticState {
    return {
      tensors: {
        ...headTensors(this.studentHead, this.teacherHead),
        'bank/student': this.bank.student,
        'bank/teacher': this.bank.teacher,
      },
      json: { zStudent: this.zStudent, zTeacher: this.zTeacher },
    };
  }

  /**
   * Throws `checkpoint-mismatch` unless {@link loadState} would succeed on `state` (every tensor
   * there, of this critic's shapes; Z null or finite > 0). Changes nothing.
   */
  checkState(state: { tensors: Readonly<Record<string, tf.Tensor>>; json?: unknown }, where = 'CRD'): SavedNormalisers {
    const t = state.tensors;
    const missing = TENSORS.filter((k) => !(t[k] instanceof tf.Tensor));
    if (missing.length > 0) {
      throw new DistillationError('checkpoint-mismatch', `${where}: checkpoint lacks ${missing.join(', ')}`);
    }
    this.studentHead.checkWeights(t['embed_s/kernel'], t['embed_s/bias'], `${where}: embed_s`);
    this.teacherHead.checkWeights(t['embed_t/kernel'], t['embed_t/bias'], `${where}: embed_t`);
    this.bank.checkState({ student: t['bank/student'] as tf.Tensor2D, teacher: t['bank/teacher'] as tf.Tensor2D }, `${where}: bank`);
    return savedNormalisers(state.json, where);
  }

  /**
   * Restores {@link state}'s output (tensors are copied; the caller keeps ownership). Everything is
   * checked first ({@link checkState}): a bad state throws and leaves the critic as it was.
   */
  loadState(state: { tensors: Readonly<Record<string, tf.Tensor>>; json?: unknown }): void {
    const z = this.checkState(state);
    this.assignState(state.tensors, z);
  }

  /** Assigns a state {@link checkState} accepted (no checks of its own beyond the parts'). */
  assignState(t: Readonly<Record<string, tf.Tensor>>, z: SavedNormalisers): void {
    this.studentHead.setWeights(t['embed_s/kernel']!, t['embed_s/bias']!);
    this.teacherHead.setWeights(t['embed_t/kernel']!, t['embed_t/bias']!);
    this.bank.loadState({ student: t['bank/student'] as tf.Tensor2D, teacher: t['bank/teacher'] as tf.Tensor2D });
    this.zStudent = z.zStudent;
    this.zTeacher = z.zTeacher;
  }

  /** Frees heads and banks. */
  dispose(): void {
    this.studentHead.dispose();
    this.teacherHead.dispose();
    this.bank.dispose();
  }

  private scores(bank: tf.Tensor2D, anchors: tf.Tensor2D, sample: ContrastSample): ContrastLogits {
    return sample.kind === 'shared'
      ? sharedContrastLogits(bank, anchors, sample.positives, sample.shared, this.temperature)
      : contrastLogits(bank, anchors, sample.contrast, this.temperature, this.scoring);
  }
}
