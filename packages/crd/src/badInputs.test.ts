/**
 * Bad-input battery of `@kd/crd` (issue 13): every public function and constructor refuses bad
 * options and bad inputs with a typed kd error, before any work, leaking no tensor. One line per
 * case: [what, run, code, message fragment].
 */
import { type Batch, type DistillationPlugin, Distiller, isDistillationError, SeededRandom, type SetupContext } from '@kd/core';
import { expectNoTrainingStep, expectRefused } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { disposeData, mlp, toyData } from '../test/helpers';
import { CrdCritic } from './critic';
import { EmbeddingQueue } from './embeddingQueue';
import { EmbedHead } from './embedHead';
import { CrdError, type CrdErrorCode, crdErrorCodes } from './errors';
import { MemoryBank } from './memoryBank';
import { contrastLogits, estimateZ, nceLoss, nceLossFromLogits, queueContrastLogits, sharedContrastLogits } from './nce';
import { type CrdQueueState, type CrdState, crd, crdEnsemble } from './plugin';
import { CrdQueueCritic } from './queueCritic';
import { queueNegatives } from './queueSampler';
import { NegativeSampler } from './sampler';

type Case = readonly [what: string, run: () => unknown, code: string, fragment: string | RegExp];

const taps = { student: 's', teacher: 't' } as const;
const N = 20;
const labels = Int32Array.from({ length: N }, (_, i) => i % 3);
const sampler = new NegativeSampler({ dataSize: N, negatives: 4, labels });
const random = new SeededRandom(0);

// Long-lived inputs of the tensor cases (disposed after the battery).
const bank = new MemoryBank(10, 3, { seed: 1 });
const head = new EmbedHead(6, 4);
const critic = new CrdCritic({ studentDim: 6, teacherDim: 5, dataSize: N, featureDim: 4 });
const row3 = tf.zeros([1, 3]) as tf.Tensor2D;
const row4 = tf.zeros([1, 4]) as tf.Tensor2D;
const table = tf.randomNormal([10, 3], 0, 1, 'float32', 1) as tf.Tensor2D;
const anchors = tf.randomNormal([2, 3], 0, 1, 'float32', 2) as tf.Tensor2D;
const feats = { s6: tf.zeros([2, 6]), s7: tf.zeros([2, 7]), t5: tf.zeros([2, 5]), s6x3: tf.zeros([3, 6]) };
const nanScores = tf.tensor2d([[Number.NaN, 1]]);
const oneColumn = tf.ones([2, 1]) as tf.Tensor2D;
const threeColumns = tf.ones([2, 3]) as tf.Tensor2D;
const logits = { positive: tf.zeros([2, 1]) as tf.Tensor2D, negative: tf.zeros([2, 3]) as tf.Tensor2D };
const contrast = Int32Array.from([0, 1, 2, 3, 4, 5]); // [2, 3]: K = 2
const queue = new EmbeddingQueue(4, 3, { seed: 1 });
const queueCritic = new CrdQueueCritic({ studentDim: 6, teacherDim: 5, dataSize: N, queueSize: 4, featureDim: 4 });
const queueIds = Int32Array.of(5, 6, -1, 7); // the ids of a queue of K = 4 (one entry still initial)
const queueSample = queueNegatives(queueIds, [0, 1], random);

/** Runs `run` with NaN student and teacher features `[2, 6]`, `[2, 5]` (disposed after). */
function withNaNFeatures(run: (student: tf.Tensor, teacher: tf.Tensor) => void): void {
  const f = tf.fill([2, 6], Number.NaN);
  const t = tf.fill([2, 5], Number.NaN);
  try {
    run(f, t);
  } finally {
    tf.dispose([f, t]);
  }
}

afterAll(() => {
  bank.dispose();
  queue.dispose();
  queueCritic.dispose();
  head.dispose();
  critic.dispose();
  tf.dispose([row3, row4, table, anchors, ...Object.values(feats), nanScores, oneColumn, threeColumns, logits.positive, logits.negative]);
});

const optionCases: Case[] = [
  // crd
  [
    'crd: misspelt "negatives" (was reported as K = 16384 too large)',
    () => crd({ ...taps, negative: 4096 } as never),
    'unknown-option',
    'did you mean "negatives"',
  ],
  [
    'crd: misspelt "negatives", nothing else given',
    () => crd({ negative: 4096 } as never),
    'unknown-option',
    'crd: unknown option "negative"; did you mean "negatives"?',
  ],
  ['crd: misspelt required "student"', () => crd({ studnet: 's', teacher: 't' } as never), 'unknown-option', 'did you mean "student"'],
  ['crd: misspelt "temperature"', () => crd({ ...taps, temprature: 0.1 } as never), 'unknown-option', 'did you mean "temperature"'],
  ['crd: misspelt "featureDim"', () => crd({ ...taps, featDim: 8 } as never), 'unknown-option', 'did you mean "featureDim"'],
  ['crd: misspelt "classAware"', () => crd({ ...taps, classaware: false } as never), 'unknown-option', 'did you mean "classAware"'],
  ['crd: an unrelated key', () => crd({ ...taps, zzz: 1 } as never), 'unknown-option', 'unknown option "zzz"'],
  ['crd: no options', () => crd(undefined as never), 'bad-option', 'option "student"'],
  ['crd: null options', () => crd(null as never), 'bad-option', 'crd: options'],
  ['crd: empty student tap', () => crd({ student: '', teacher: 't' }), 'bad-option', 'option "student"'],
  ['crd: numeric teacher tap', () => crd({ student: 's', teacher: 5 as never }), 'bad-option', 'option "teacher"'],
  ['crd: negatives 0', () => crd({ ...taps, negatives: 0 }), 'bad-option', 'option "negatives"'],
  ['crd: fractional negatives', () => crd({ ...taps, negatives: 1.5 }), 'bad-option', 'option "negatives"'],
  ['crd: negative featureDim', () => crd({ ...taps, featureDim: -1 }), 'bad-option', 'option "featureDim"'],
  ['crd: temperature 0', () => crd({ ...taps, temperature: 0 }), 'bad-option', 'option "temperature"'],
  ['crd: temperature NaN', () => crd({ ...taps, temperature: Number.NaN }), 'bad-option', 'option "temperature"'],
  ['crd: momentum above 1', () => crd({ ...taps, momentum: 1.5 }), 'bad-option', 'option "momentum"'],
  ['crd: negative weight', () => crd({ ...taps, weight: -0.8 }), 'bad-option', 'option "weight"'],
  ['crd: infinite weight', () => crd({ ...taps, weight: Number.POSITIVE_INFINITY }), 'bad-option', 'option "weight"'],
  ['crd: unknown sampling', () => crd({ ...taps, sampling: 'nope' as never }), 'bad-option', 'option "sampling"'],
  ['crd: unknown positive mode', () => crd({ ...taps, positive: 'loose' as never }), 'bad-option', 'option "positive"'],
  ['crd: unknown scoring', () => crd({ ...taps, scoring: 'sparse' as never }), 'bad-option', 'option "scoring"'],
  ['crd: classAware not a boolean', () => crd({ ...taps, classAware: 'yes' as never }), 'bad-option', 'option "classAware"'],
  ['crd: empty name', () => crd({ ...taps, name: '' }), 'bad-option', 'option "name"'],
  ['crd: studentDim 0', () => crd({ ...taps, studentDim: 0 }), 'bad-option', 'option "studentDim"'],
  // crd, queue memory
  [
    'crd: misspelt "queueSize"',
    () => crd({ ...taps, memory: 'queue', queueSzie: 64 } as never),
    'unknown-option',
    'did you mean "queueSize"',
  ],
  ['crd: misspelt "memory"', () => crd({ ...taps, memroy: 'queue' } as never), 'unknown-option', 'did you mean "memory"'],
  ['crd: unknown memory', () => crd({ ...taps, memory: 'ring' as never }), 'bad-option', "option \"memory\" must be 'banks' or 'queue'"],
  [
    'crd: queue without queueSize',
    () => crd({ ...taps, memory: 'queue' } as never),
    'bad-option',
    'option "queueSize" (K, the entries per queue) is required',
  ],
  ['crd: queueSize 0', () => crd({ ...taps, memory: 'queue', queueSize: 0 }), 'bad-option', 'option "queueSize"'],
  ['crd: queueSize -8', () => crd({ ...taps, memory: 'queue', queueSize: -8 }), 'bad-option', 'option "queueSize"'],
  ['crd: fractional queueSize', () => crd({ ...taps, memory: 'queue', queueSize: 7.5 }), 'bad-option', 'option "queueSize"'],
  ['crd: NaN queueSize', () => crd({ ...taps, memory: 'queue', queueSize: Number.NaN }), 'bad-option', 'option "queueSize"'],
  [
    'crd: queueSize with the banks',
    () => crd({ ...taps, queueSize: 64 }),
    'bad-option',
    'option "queueSize" applies to memory: \'queue\' only',
  ],
  [
    'crdEnsemble: queueSize with explicit banks',
    () => crdEnsemble([taps], { memory: 'banks', queueSize: 64 }),
    'bad-option',
    'crdEnsemble: option "queueSize" applies',
  ],
  ['crdEnsemble: queue without queueSize', () => crdEnsemble([taps], { memory: 'queue' } as never), 'bad-option', 'option "queueSize"'],
  // EmbeddingQueue, CrdQueueCritic, queueContrastLogits
  ['EmbeddingQueue: misspelt "seed"', () => new EmbeddingQueue(4, 2, { sed: 1 } as never), 'unknown-option', 'did you mean "seed"'],
  ['EmbeddingQueue: size 0', () => new EmbeddingQueue(0, 2), 'bad-option', 'size K must be a positive integer'],
  ['EmbeddingQueue: fractional dim', () => new EmbeddingQueue(4, 1.5), 'bad-option', 'dim must be a positive integer'],
  [
    'CrdQueueCritic: no queueSize',
    () => new CrdQueueCritic({ studentDim: 4, teacherDim: 4, dataSize: 8 } as never),
    'bad-option',
    'option "queueSize"',
  ],
  [
    'CrdQueueCritic: a bank option',
    () => new CrdQueueCritic({ studentDim: 4, teacherDim: 4, dataSize: 8, queueSize: 4, momentum: 0.5 } as never),
    'unknown-option',
    'unknown option "momentum"',
  ],
  [
    'queueContrastLogits: temperature 0',
    () => queueContrastLogits(table, anchors, anchors, Int32Array.of(0, 1), 0),
    'bad-option',
    'queueContrastLogits: temperature must be a finite number > 0',
  ],
  // crdEnsemble
  [
    'crdEnsemble: misspelt member key',
    () => crdEnsemble([taps, { ...taps, studentDims: 8 } as never]),
    'unknown-option',
    'did you mean "members[1].studentDim"',
  ],
  [
    'crdEnsemble: misspelt required member key',
    () => crdEnsemble([taps, { studnet: 's', teacher: 't' } as never]),
    'unknown-option',
    'did you mean "members[1].student"',
  ],
  ['crdEnsemble: misspelt option', () => crdEnsemble([taps], { negativs: 8 } as never), 'unknown-option', 'did you mean "negatives"'],
  [
    'crdEnsemble: misspelt teacherDim',
    () => crdEnsemble([{ ...taps, teacherDims: 8 } as never]),
    'unknown-option',
    'did you mean "members[0].teacherDim"',
  ],
  ['crdEnsemble: no members', () => crdEnsemble([]), 'bad-option', 'option "members"'],
  ['crdEnsemble: members not a list', () => crdEnsemble(undefined as never), 'bad-option', 'option "members"'],
  ['crdEnsemble: empty teacher tap', () => crdEnsemble([{ student: 's', teacher: '' }]), 'bad-option', 'option "members[0].teacher"'],
  ['crdEnsemble: negative weight', () => crdEnsemble([taps], { weight: -1 }), 'bad-option', 'option "weight"'],
  ['crdEnsemble: momentum below 0', () => crdEnsemble([taps], { momentum: -0.1 }), 'bad-option', 'option "momentum"'],
  // NegativeSampler
  [
    'NegativeSampler: misspelt "labels"',
    () => new NegativeSampler({ dataSize: N, negatives: 4, lables: labels } as never),
    'unknown-option',
    'did you mean "labels"',
  ],
  [
    'NegativeSampler: misspelt "positive"',
    () => new NegativeSampler({ dataSize: N, negatives: 4, positve: 'relax' } as never),
    'unknown-option',
    'did you mean "positive"',
  ],
  ['NegativeSampler: dataSize 1', () => new NegativeSampler({ dataSize: 1, negatives: 1 }), 'bad-option', 'option "dataSize"'],
  ['NegativeSampler: fractional negatives', () => new NegativeSampler({ dataSize: N, negatives: 2.5 }), 'bad-option', 'option "negatives"'],
  [
    'NegativeSampler: labels a plain array',
    () => new NegativeSampler({ dataSize: N, negatives: 4, labels: [0, 1] as never }),
    'bad-option',
    'option "labels"',
  ],
  [
    'NegativeSampler: labels of another length',
    () => new NegativeSampler({ dataSize: N, negatives: 4, labels: new Int32Array(3) }),
    'bad-option',
    'option "labels" has 3 labels',
  ],
  [
    'NegativeSampler: unknown positive mode',
    () => new NegativeSampler({ dataSize: N, negatives: 4, positive: 'x' as never }),
    'bad-option',
    'option "positive"',
  ],
  [
    'NegativeSampler: a negative label',
    () => new NegativeSampler({ dataSize: 3, negatives: 1, labels: Int32Array.of(0, -1, 1) }),
    'bad-labels',
    'label -1 of example 1',
  ],
  // MemoryBank, EmbedHead, CrdCritic
  ['MemoryBank: misspelt "seed"', () => new MemoryBank(4, 2, { sed: 1 } as never), 'unknown-option', 'did you mean "seed"'],
  ['MemoryBank: empty name', () => new MemoryBank(4, 2, { name: '' }), 'bad-option', 'option "name"'],
  ['MemoryBank: size 0', () => new MemoryBank(0, 2), 'bad-option', 'size N must be a positive integer'],
  ['MemoryBank: fractional dim', () => new MemoryBank(4, 2.5), 'bad-option', 'dim must be a positive integer'],
  ['MemoryBank.update: momentum 2', () => bank.update(Int32Array.of(0), row3, row3, 2), 'bad-option', 'momentum must be in [0, 1]'],
  ['EmbedHead: misspelt "seed"', () => new EmbedHead(4, 2, { seeed: 1 } as never), 'unknown-option', 'did you mean "seed"'],
  ['EmbedHead: seed not a number', () => new EmbedHead(4, 2, { seed: 'x' as never }), 'bad-option', 'option "seed"'],
  ['EmbedHead: inputDim 0', () => new EmbedHead(0, 2), 'bad-option', 'inputDim must be a positive integer'],
  [
    'CrdCritic: misspelt "featureDim"',
    () => new CrdCritic({ studentDim: 4, teacherDim: 4, dataSize: 8, featureDims: 4 } as never),
    'unknown-option',
    'did you mean "featureDim"',
  ],
  [
    'CrdCritic: misspelt required "dataSize"',
    () => new CrdCritic({ studentDim: 4, teacherDim: 4, datasize: 8 } as never),
    'unknown-option',
    'did you mean "dataSize"',
  ],
  [
    'NegativeSampler: misspelt required "negatives"',
    () => new NegativeSampler({ dataSize: N, negative: 4 } as never),
    'unknown-option',
    'did you mean "negatives"',
  ],
  ['CrdCritic: no dataSize', () => new CrdCritic({ studentDim: 4, teacherDim: 4 } as never), 'bad-option', 'option "dataSize"'],
  [
    'CrdCritic: unknown scoring',
    () => new CrdCritic({ studentDim: 4, teacherDim: 4, dataSize: 8, scoring: 'x' as never }),
    'bad-option',
    'option "scoring"',
  ],
  [
    'CrdCritic: temperature -1',
    () => new CrdCritic({ studentDim: 4, teacherDim: 4, dataSize: 8, temperature: -1 }),
    'bad-option',
    'option "temperature"',
  ],
  // scores and losses
  [
    'contrastLogits: unknown strategy',
    () => contrastLogits(table, anchors, contrast, 0.1, 'fast' as never),
    'bad-option',
    "strategy must be 'gather' or 'dense'",
  ],
  [
    'contrastLogits: temperature 0',
    () => contrastLogits(table, anchors, contrast, 0),
    'bad-option',
    'temperature must be a finite number > 0',
  ],
  [
    'sharedContrastLogits: temperature NaN',
    () => sharedContrastLogits(table, anchors, Int32Array.of(0, 1), Int32Array.of(2), Number.NaN),
    'bad-option',
    'temperature',
  ],
  ['nceLoss: dataSize 0', () => nceLoss(threeColumns, 0), 'bad-option', 'dataSize must be > 0'],
  ['nceLossFromLogits: dataSize -1', () => nceLossFromLogits(logits, 1, -1), 'bad-option', 'dataSize must be > 0'],
  ['estimateZ: dataSize NaN', () => estimateZ(logits, Number.NaN), 'bad-option', 'dataSize must be > 0'],
];

const crdCodeCases: (readonly [CrdErrorCode, string, () => unknown, string | RegExp])[] = [
  // queue mode: the options of the banks are refused, each by name
  ...(
    [
      ['negatives', { negatives: 64 }, "the negatives are the queue's K entries: set queueSize"],
      ['momentum', { momentum: 0.5 }, 'queue entries are enqueued as they are, with no momentum'],
      ['sampling', { sampling: 'shared' }, 'every anchor of a batch is scored against the whole queue'],
      ['sampling', { sampling: 'reference' }, 'every anchor of a batch is scored against the whole queue'],
      ['scoring', { scoring: 'dense' }, 'queue scores are one [B, d] x [d, K] matmul'],
      ['classAware', { classAware: true }, 'the queue holds the last K embeddings whatever their class'],
      ['positive', { positive: 'relax' }, "the positive is the other side's embedding of the example itself"],
    ] as const
  ).map(
    ([key, extra, why]) =>
      [
        'queue-incompatible',
        `crd: ${key} ${JSON.stringify(extra[key as keyof typeof extra])} with memory: 'queue'`,
        () => crd({ ...taps, memory: 'queue', queueSize: 8, ...extra }),
        `crd: option "${key}" (${JSON.stringify(extra[key as keyof typeof extra])}) needs the memory banks and is refused with memory: 'queue': ${why}`,
      ] as const,
  ),
  [
    'queue-incompatible',
    "crdEnsemble: classAware true with memory: 'queue'",
    () => crdEnsemble([taps], { memory: 'queue', queueSize: 8, classAware: true }),
    'crdEnsemble: option "classAware" (true) needs the memory banks',
  ],
  [
    'too-many-negatives',
    'queueNegatives: every entry holds an example of the batch',
    () => queueNegatives(Int32Array.of(3, 4, 3), [3, 4], random),
    'all 3 queue entries hold examples of the batch of 2',
  ],
  ['missing-indices', 'queueNegatives: no index', () => queueNegatives(queueIds, undefined as never, random), 'sample index'],
  [
    'index-out-of-range',
    'queueNegatives: an index past N',
    () => queueNegatives(queueIds, [1, N], random, N),
    'index 20 (batch position 1) is outside [0, 20)',
  ],
  ['index-out-of-range', 'queueNegatives: index -1', () => queueNegatives(queueIds, [-1], random), 'index -1'],
  ['index-out-of-range', 'queueNegatives: a fractional index', () => queueNegatives(queueIds, [0.5], random), 'index 0.5'],
  [
    'index-out-of-range',
    'EmbeddingQueue.enqueue: id -1',
    () => queue.enqueue(Int32Array.of(-1), row3, row3),
    'example id -1 (batch position 0) is not an index >= 0',
  ],
  [
    'feature-dim-mismatch',
    'EmbeddingQueue.enqueue: rows of 4 for entries of 3',
    () => queue.enqueue(Int32Array.of(0), row3, row4),
    'teacher embeddings must be [1, 3], got [1,4]',
  ],
  [
    'feature-dim-mismatch',
    'EmbeddingQueue.enqueue: 1 row for 2 ids',
    () => queue.enqueue(Int32Array.of(0, 1), row3, row3),
    'student embeddings must be [2, 3]',
  ],
  [
    'feature-dim-mismatch',
    'queueContrastLogits: anchors of 4 for entries of 3',
    () => queueContrastLogits(table, row4, row4, Int32Array.of(0), 0.1),
    'anchors are [1,4] but queue entries have 3 values',
  ],
  [
    'feature-dim-mismatch',
    'queueContrastLogits: positives of another batch',
    () => queueContrastLogits(table, anchors, row3, Int32Array.of(0), 0.1),
    'positives must be [2, 3] like the anchors, got [1,3]',
  ],
  [
    'index-out-of-range',
    'queueContrastLogits: an entry past K',
    () => queueContrastLogits(table, anchors, anchors, Int32Array.of(0, 10), 0.1),
    'bank row 10',
  ],
  [
    'bad-contrast',
    'queueContrastLogits: no negatives',
    () => queueContrastLogits(table, anchors, anchors, new Int32Array(0), 0.1),
    'no negatives',
  ],
  [
    'feature-dim-mismatch',
    'CrdQueueCritic.loss: student features of the wrong size',
    () => queueCritic.loss(feats.s7, feats.t5, queueSample),
    '[batch, 6]',
  ],
  [
    'feature-dim-mismatch',
    'CrdQueueCritic.loss: teacher features of the wrong size (after the student embedding: nothing leaks)',
    () => queueCritic.loss(feats.s6, feats.s6, queueSample),
    '[batch, 5]',
  ],
  [
    'feature-dim-mismatch',
    'CrdCritic.loss: teacher features of the wrong size (after the student embedding: nothing leaks)',
    () => critic.loss(feats.s6, feats.s6, sampler.sample([0, 1], random)),
    '[batch, 5]',
  ],
  [
    'non-finite-normaliser',
    'CrdQueueCritic.loss: NaN features (Z on the first batch; nothing leaks, Z stays unset)',
    () =>
      withNaNFeatures((f, t) => {
        const fresh = new CrdQueueCritic({ studentDim: 6, teacherDim: 5, dataSize: N, queueSize: 4, featureDim: 4 });
        try {
          fresh.loss(f, t, queueSample);
        } finally {
          expect([fresh.zStudent, fresh.zTeacher]).toEqual([null, null]);
          fresh.dispose();
        }
      }),
    'normaliser Z estimated on the first batch is NaN',
  ],
  [
    'non-finite-normaliser',
    'CrdCritic.loss: NaN features (Z on the first batch; nothing leaks, Z stays unset)',
    () =>
      withNaNFeatures((f, t) => {
        const fresh = new CrdCritic({ studentDim: 6, teacherDim: 5, dataSize: N, featureDim: 4 });
        try {
          fresh.loss(f, t, sampler.sample([0, 1], random));
        } finally {
          expect([fresh.zStudent, fresh.zTeacher]).toEqual([null, null]);
          fresh.dispose();
        }
      }),
    'normaliser Z estimated on the first batch is NaN',
  ],
  [
    'bad-contrast',
    'CrdQueueCritic.loss: 3 feature rows for 2 indices',
    () => queueCritic.loss(feats.s6x3, feats.t5, queueSample),
    'CRD (queue): student features have 3 rows for 2 sample indices',
  ],
  [
    'bad-contrast',
    'CrdQueueCritic.loss: negatives for another queue size',
    () => queueCritic.loss(feats.s6, feats.t5, { ...queueSample, negatives: Int32Array.of(0, 1) }),
    '2 negatives for a queue of K = 4 entries',
  ],
  [
    'too-many-negatives',
    'NegativeSampler: K >= N',
    () => new NegativeSampler({ dataSize: N, negatives: N }),
    'K = 20 must be smaller than the number of training examples N = 20',
  ],
  [
    'too-many-negatives',
    'sampleShared: the batch covers every example',
    () => new NegativeSampler({ dataSize: 3, negatives: 2 }).sampleShared([0, 1, 2], random),
    'covers every example',
  ],
  [
    'no-labels',
    "NegativeSampler: 'relax' without labels",
    () => new NegativeSampler({ dataSize: N, negatives: 4, positive: 'relax' }),
    'needs the training labels',
  ],
  [
    'single-class',
    'NegativeSampler: one label only',
    () => new NegativeSampler({ dataSize: N, negatives: 4, labels: new Int32Array(N) }),
    'same label',
  ],
  ['missing-indices', 'sample: no index', () => sampler.sample(undefined as never, random), 'sample index'],
  ['index-out-of-range', 'sample: index N', () => sampler.sample([1, N], random), 'index 20 (batch position 1) is outside [0, 20)'],
  ['index-out-of-range', 'sampleShared: index -1', () => sampler.sampleShared([-1], random), 'index -1'],
  [
    'index-out-of-range',
    'MemoryBank.update: row 10 of 10',
    () => bank.update(Int32Array.of(10), row3, row3, 0.5),
    'outside the memory bank [0, 10)',
  ],
  [
    'index-out-of-range',
    'contrastLogits: a bank row past N',
    () => contrastLogits(table, anchors, Int32Array.of(0, 1, 2, 3, 4, 10), 0.1),
    'bank row 10',
  ],
  [
    'feature-dim-mismatch',
    'MemoryBank.update: rows of 4 for a bank of 3',
    () => bank.update(Int32Array.of(0), row4, row3, 0.5),
    'student embeddings must be [1, 3]',
  ],
  ['feature-dim-mismatch', 'EmbedHead.apply: 7 features for 6', () => head.apply(feats.s7), '[batch, 6]'],
  [
    'feature-dim-mismatch',
    'CrdCritic.loss: student features of the wrong size',
    () => critic.loss(feats.s7, feats.t5, sampler.sample([0, 1], random)),
    '[batch, 6]',
  ],
  [
    'feature-dim-mismatch',
    'contrastLogits: anchors of 4 for bank rows of 3',
    () => contrastLogits(table, row4, Int32Array.of(0, 1), 0.1),
    'bank rows have 3 values',
  ],
  [
    'feature-dim-mismatch',
    'sharedContrastLogits: anchors of 4 for bank rows of 3',
    () => sharedContrastLogits(table, row4, Int32Array.of(0), Int32Array.of(1), 0.1),
    'bank rows have 3 values',
  ],
  [
    'bad-contrast',
    'CrdCritic.loss: 3 feature rows for 2 indices',
    () => critic.loss(feats.s6x3, feats.t5, sampler.sample([0, 1], random)),
    'features have 3 rows for 2 sample indices',
  ],
  [
    'bad-contrast',
    'contrastLogits: rows without a negative',
    () => contrastLogits(table, anchors, Int32Array.of(0, 1), 0.1),
    'do not form [2, K+1] rows',
  ],
  [
    'bad-contrast',
    'sharedContrastLogits: no negative',
    () => sharedContrastLogits(table, anchors, Int32Array.of(0, 1), new Int32Array(0), 0.1),
    '0 negatives',
  ],
  ['bad-contrast', 'nceLoss: scores [2, 1]', () => nceLoss(oneColumn, 10), 'expected scores [B, K+1] with K >= 1'],
  ['non-finite-normaliser', 'estimateZ: NaN scores', () => estimateZ(nanScores, 10), 'normaliser Z estimated on the first batch is NaN'],
  ['non-finite-normaliser', 'nceLossFromLogits: Z = 0', () => nceLossFromLogits(logits, 0, 10), 'normaliser Z must be finite and > 0'],
];

describe('@kd/crd refuses bad options', () => {
  it.each(optionCases)('%s', async (_what, run, code, fragment) => {
    await expectRefused(run, code, fragment);
  });
});

describe("@kd/crd's own error codes", () => {
  it.each(crdCodeCases)('%s: %s', async (code, _what, run, fragment) => {
    await expectRefused(run, code, fragment);
  });

  it('every code of the table is triggered by a case here or in the plugin cases below', () => {
    const covered = new Set([...crdCodeCases.map((c) => c[0]), ...pluginCases.map((c) => c[1])]);
    expect(Object.keys(crdErrorCodes).filter((c) => !covered.has(c))).toEqual([]);
  });

  it('CrdError is a DistillationError of its code, with a cause', () => {
    const cause = new Error('inner');
    const error = new CrdError('single-class', 'one class', { cause });
    expect(isDistillationError(error, 'single-class')).toBe(true);
    expect(isDistillationError(error, 'bad-option')).toBe(false);
    expect(error.name).toBe('CrdError');
    expect(error.cause).toBe(cause);
  });
});

// Plugin failures at fit() or at a step: the error, no step taken, nothing leaked.
const data = toyData(24, 8, 3, 1);
const oneClass = { x: data.x, y: tf.zeros([24], 'int32') as tf.Tensor1D };
afterAll(() => {
  disposeData(data);
  oneClass.y.dispose();
});

function setupContext(withLabels: boolean): SetupContext {
  return {
    dataSize: N,
    numClasses: 3,
    studentShapes: { s: [null, 6] },
    teacherShapes: { t: [null, 5], m: [null, 2, 2] },
    ...(withLabels ? { labels } : {}),
    random: new SeededRandom(1),
  };
}

const step = (state: CrdState | CrdQueueState) => ({ state, epoch: 0, step: 0, random: new SeededRandom(2), keep: <T>(t: T) => t });

/** Runs a plugin through setup (and one transformBatch when `batch` is given), disposing what it made. */
async function setupAndStep(
  plugin: DistillationPlugin<CrdState | CrdQueueState>,
  context: SetupContext,
  batch?: () => Batch,
): Promise<void> {
  const state = plugin.setup!(context) as CrdState | CrdQueueState;
  const input = batch?.();
  try {
    if (input) await plugin.transformBatch!(input, step(state));
  } finally {
    if (input) tf.dispose([input.x, input.y, ...(input.index ? [input.index] : [])]);
    plugin.dispose!(state);
  }
}

/** fit() that must fail before the first training step. */
async function fitRefused(plugin: DistillationPlugin<CrdState | CrdQueueState>, withTeacher = true, set = data): Promise<void> {
  const student = mlp(8, 6, 3, 1, 'bs');
  const teacher = mlp(8, 5, 3, 2, 'bt');
  const optimizer = tf.train.sgd(0.1);
  const distiller = new Distiller({ student, ...(withTeacher ? { teacher } : {}), optimizer });
  try {
    distiller.use(plugin);
    await expectNoTrainingStep(student, (onEvent) => distiller.fit(set, { epochs: 1, batchSize: 8, onEvent }));
  } finally {
    distiller.dispose();
    student.dispose();
    teacher.dispose();
    optimizer.dispose();
  }
}

const pluginCases: (readonly [string, string, () => unknown, string | RegExp])[] = [
  [
    'fit: K >= N',
    'too-many-negatives',
    () => fitRefused(crd({ student: 'bs_pool', teacher: 'bt_pool', negatives: 24 })),
    /K = 24 must be smaller .* N = 24/,
  ],
  [
    'fit: teacherDim disagrees with the tapped layer',
    'feature-dim-mismatch',
    () => fitRefused(crd({ student: 'bs_pool', teacher: 'bt_pool', negatives: 8, teacherDim: 32 })),
    'teacherDim = 32 disagrees with the tapped teacher layer "bt_pool"',
  ],
  [
    'fit: CRD-EN member studentDim disagrees',
    'feature-dim-mismatch',
    () => fitRefused(crdEnsemble([{ student: 'bs_pool', teacher: 'bt_pool', studentDim: 7 }], { negatives: 8 })),
    'studentDim = 7 disagrees',
  ],
  [
    'fit: every example of one class',
    'single-class',
    () => fitRefused(crd({ student: 'bs_pool', teacher: 'bt_pool', negatives: 8 }), true, oneClass),
    'same label',
  ],
  ['fit: no teacher', 'no-teacher', () => fitRefused(crd({ student: 'bs_pool', teacher: 'bt_pool', negatives: 8 }), false), /teacher/],
  [
    'fit: an untapped layer name',
    'unknown-layer',
    () => fitRefused(crd({ student: 'bs_nope', teacher: 'bt_pool', negatives: 8 })),
    'bs_nope',
  ],
  [
    'setup: relax without labels',
    'no-labels',
    () => setupAndStep(crd({ ...taps, featureDim: 4, negatives: 4, positive: 'relax' }), setupContext(false)),
    'needs the training labels',
  ],
  [
    'setup: a map with an unknown size and no teacherDim',
    'feature-dim-mismatch',
    () =>
      setupAndStep(crd({ student: 's', teacher: 'm', featureDim: 4, negatives: 4 }), {
        ...setupContext(true),
        teacherShapes: { m: [null, null, 2] },
      }),
    'fixed-size (pooled) feature',
  ],
  [
    'setup: the tapped layer is not in the context',
    'unknown-layer',
    () => setupAndStep(crd({ student: 's', teacher: 'x', featureDim: 4, negatives: 4 }), setupContext(true)),
    'teacher layer "x" was not tapped',
  ],
  [
    'transformBatch: no batch.index',
    'missing-indices',
    () =>
      setupAndStep(
        crd({ ...taps, featureDim: 4, negatives: 4 }),
        setupContext(true),
        () => ({ x: tf.zeros([2, 6]), y: tf.tensor1d([0, 1], 'int32') }) as Batch,
      ),
    'needs the sample index of every example',
  ],
  [
    'transformBatch: batch.index of the wrong length',
    'missing-indices',
    () =>
      setupAndStep(
        crd({ ...taps, featureDim: 4, negatives: 4 }),
        setupContext(true),
        () => ({ x: tf.zeros([2, 6]), y: tf.tensor1d([0, 1], 'int32'), index: tf.tensor1d([0, 1, 2], 'int32') }) as Batch,
      ),
    'batch.index must be [2]',
  ],
  [
    'transformBatch: an index past N',
    'index-out-of-range',
    () =>
      setupAndStep(
        crd({ ...taps, featureDim: 4, negatives: 4, sampling: 'shared' }),
        setupContext(true),
        () => ({ x: tf.zeros([2, 6]), y: tf.tensor1d([0, 1], 'int32'), index: tf.tensor1d([3, N], 'int32') }) as Batch,
      ),
    'index 20',
  ],
  // queue memory
  [
    'fit (queue): queueSize K >= N',
    'too-many-negatives',
    () => fitRefused(crd({ student: 'bs_pool', teacher: 'bt_pool', memory: 'queue', queueSize: 24 })),
    'option "queueSize" K = 24 must be smaller than the number of training examples N = 24',
  ],
  [
    'fit (queue): teacherDim disagrees with the tapped layer',
    'feature-dim-mismatch',
    () => fitRefused(crd({ student: 'bs_pool', teacher: 'bt_pool', memory: 'queue', queueSize: 8, teacherDim: 32 })),
    'teacherDim = 32 disagrees with the tapped teacher layer "bt_pool"',
  ],
  [
    'fit (queue): no teacher',
    'no-teacher',
    () => fitRefused(crd({ student: 'bs_pool', teacher: 'bt_pool', memory: 'queue', queueSize: 8 }), false),
    /teacher/,
  ],
  [
    'transformBatch (queue): no batch.index',
    'missing-indices',
    () =>
      setupAndStep(
        crd({ ...taps, featureDim: 4, memory: 'queue', queueSize: 4 }),
        setupContext(false),
        () => ({ x: tf.zeros([2, 6]), y: tf.tensor1d([0, 1], 'int32') }) as Batch,
      ),
    'needs the sample index of every example',
  ],
  [
    'transformBatch (queue): an index past N',
    'index-out-of-range',
    () =>
      setupAndStep(
        crd({ ...taps, featureDim: 4, memory: 'queue', queueSize: 4 }),
        setupContext(false),
        () => ({ x: tf.zeros([2, 6]), y: tf.tensor1d([0, 1], 'int32'), index: tf.tensor1d([3, N], 'int32') }) as Batch,
      ),
    'index 20 (batch position 1) is outside [0, 20)',
  ],
];

describe('@kd/crd plugins refuse bad runs before the first step', () => {
  it.each(pluginCases)('%s', async (_what, code, run, fragment) => {
    await expectRefused(run, code, fragment);
  });
});

it('battery size (issue 13)', () => {
  expect(optionCases.length + crdCodeCases.length + pluginCases.length).toBeGreaterThanOrEqual(80);
});
