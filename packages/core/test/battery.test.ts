/**
 * The bad-input battery of @kd/core: every case is one bad input a user can make, and asserts
 * (1) a kd error with the expected `code`, (2) a message fragment that names what is wrong,
 * (3) zero training steps taken and the student's weights untouched, (4) no tensor left behind
 * (the case's models and data included, created and disposed inside the count), and (5) no
 * partial file in the case's directory.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adam,
  adamW,
  cachedTeacher,
  constantRate,
  cosineDecay,
  type DistillationPlugin,
  Distiller,
  decodeCheckpoint,
  definePlugin,
  encodeCheckpoint,
  ensembleTeacher,
  evaluateModel,
  fitStages,
  hardLabel,
  isDistillationError,
  type LabeledData,
  linearWarmup,
  logitMatching,
  memoryCheckpointStore,
  memoryTeacherCacheStore,
  progressBar,
  rmsprop,
  sgd,
  softTargets,
  stepDecay,
} from '../src/index';
import { fileCheckpointStore, loadModel, saveModel } from '../src/node';
import { mlp, toyData } from './helpers';

interface Env {
  readonly student: tfl.LayersModel;
  readonly teacher: tfl.LayersModel;
  readonly data: LabeledData;
  /** kd's SGD: `iterations` counts the steps taken. */
  readonly optimizer: ReturnType<typeof sgd>;
  /** A Distiller of student, teacher and optimizer with hardLabel + softTargets. */
  distiller(extra?: DistillationPlugin<unknown>[]): Distiller;
  /** A directory of the case's own. */
  readonly dir: string;
  /** Tensors to dispose after the case. */
  own<T extends tf.Tensor | tf.Tensor[] | LabeledData>(t: T): T;
}

interface Case {
  readonly name: string;
  readonly code: string;
  readonly message: RegExp;
  readonly run: (env: Env) => unknown;
}

const fitOptions = { epochs: 1, batchSize: 8 };
const tensorsOf = (d: LabeledData) => [d.x, d.y, ...(d.teacherX ? [d.teacherX] : [])];
const withX = (env: Env, edit: (x: Float32Array) => void, field: 'x' | 'teacherX' = 'x'): LabeledData => {
  const values = env.data.x.dataSync().slice() as Float32Array;
  edit(values);
  const bad = tf.tensor(values, env.data.x.shape);
  return env.own(field === 'x' ? { x: bad, y: env.data.y } : { x: env.data.x, y: env.data.y, teacherX: bad });
};
/** A finished 1-epoch run's checkpoint (of the standard Distiller). */
const savedRun = async (env: Env, build?: (env: Env) => Distiller) => {
  const store = memoryCheckpointStore();
  const optimizer = sgd({ learningRate: 0.1 });
  const other = mlp(6, 10, 3, 1);
  const d = build ? build(env) : new Distiller({ student: other, teacher: env.teacher, optimizer }).use(hardLabel()).use(softTargets());
  await d.fit(env.data, { ...fitOptions, checkpoint: store });
  d.dispose();
  d.optimizer.dispose();
  if (d.student !== other) d.student.dispose();
  optimizer.dispose();
  other.dispose();
  return store;
};
const stateful = (name = 'bank', size = 3): DistillationPlugin<{ bank: tf.Variable }> =>
  definePlugin({
    name,
    setup: () => ({ bank: tf.tidy(() => tf.variable(tf.zeros([size]), false)) }),
    state: (s) => ({ tensors: { bank: s.bank } }),
    loadState: (s, c) => s.bank.assign(c.tensors['bank']!),
    dispose: (s) => s.bank.dispose(),
  });
const tinyCheckpointBytes = async (env: Env) => {
  const student = mlp(6, 10, 3, 1);
  const optimizer = sgd({ learningRate: 0.1 });
  const d = new Distiller({ student, optimizer }).use(hardLabel());
  await d.fit(env.data, fitOptions);
  const bytes = encodeCheckpoint(await d.checkpoint());
  d.dispose();
  optimizer.dispose();
  student.dispose();
  return bytes;
};
const rewriteHeader = (bytes: Uint8Array, edit: (h: Record<string, unknown>) => void) => {
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + length)));
  edit(header);
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = new Uint8Array(length).fill(0x20);
  if (json.byteLength > length) throw new Error('header grew');
  padded.set(json);
  const out = bytes.slice();
  out.set(padded, 12);
  return out;
};

const cases: Case[] = [
  // --- Distiller construction ---------------------------------------------------------------
  {
    name: 'misspelt config key',
    code: 'unknown-option',
    message: /Distiller: unknown option "sed"; did you mean "seed"/,
    run: (e) => new Distiller({ student: e.student, optimizer: e.optimizer, sed: 1 } as never),
  },
  {
    name: 'misspelt required optimizer key',
    code: 'unknown-option',
    message: /Distiller: unknown option "optimiser"; did you mean "optimizer"/,
    run: (e) => new Distiller({ student: e.student, optimiser: e.optimizer } as never),
  },
  {
    name: 'misspelt required student key',
    code: 'unknown-option',
    message: /Distiller: unknown option "studnet"; did you mean "student"/,
    run: (e) => new Distiller({ studnet: e.student, optimizer: e.optimizer } as never),
  },
  {
    name: 'student not a model',
    code: 'bad-student',
    message: /student must be a tfjs LayersModel/,
    run: (e) => new Distiller({ student: {} as never, optimizer: e.optimizer }),
  },
  {
    name: 'optimizer missing',
    code: 'bad-optimizer',
    message: /optimizer must be a tf.Optimizer/,
    run: (e) => new Distiller({ student: e.student } as never),
  },
  {
    name: 'optimizer of the wrong kind',
    code: 'bad-optimizer',
    message: /optimizer must be a tf.Optimizer/,
    run: (e) => new Distiller({ student: e.student, optimizer: 'adam' as never }),
  },
  {
    name: 'trainable not a function',
    code: 'bad-option',
    message: /option "trainable" must be a function \(variable\) => boolean/,
    run: (e) => new Distiller({ student: e.student, optimizer: e.optimizer, trainable: true as never }),
  },
  {
    name: 'unknown teacherCache mode',
    code: 'bad-option',
    message: /option "teacherCache" must be 'memory' or 'off' or a store/,
    run: (e) => new Distiller({ student: e.student, teacher: e.teacher, optimizer: e.optimizer, teacherCache: 'disk' as never }),
  },
  {
    name: 'a teacher-output store for a function teacher (no fingerprint)',
    code: 'no-fingerprint',
    message: /has no fingerprint of its own; pass option "fingerprint"/,
    run: (e) =>
      new Distiller({ student: e.student, teacher: (x: tf.Tensor) => x, optimizer: e.optimizer, teacherCache: memoryTeacherCacheStore() }),
  },
  {
    name: 'a cachedTeacher with a plugin that changes the teacher input',
    code: 'cached-teacher-transformed',
    message: /plugin\(s\) \[flip\] change the teacher's input every step/,
    run: (e) =>
      new Distiller({ student: e.student, teacher: cachedTeacher(e.teacher), optimizer: e.optimizer })
        .use(softTargets(), definePlugin({ name: 'flip', changesTeacherInput: true, transformBatch: (b) => b }))
        .fit(e.data, fitOptions),
  },
  {
    name: 'unknown cachedTeacher option',
    code: 'unknown-option',
    message: /cachedTeacher: unknown option "maxByte"/,
    run: (e) => cachedTeacher(e.teacher, { maxByte: 10 } as never),
  },
  {
    name: 'negative teacherCacheMaxBytes',
    code: 'bad-option',
    message: /option "teacherCacheMaxBytes" must be >= 0/,
    run: (e) => new Distiller({ student: e.student, optimizer: e.optimizer, teacherCacheMaxBytes: -1 }),
  },
  {
    name: 'fractional seed',
    code: 'bad-option',
    message: /option "seed" must be an integer, got 1.5/,
    run: (e) => new Distiller({ student: e.student, optimizer: e.optimizer, seed: 1.5 }),
  },
  {
    name: 'teacher of the wrong kind',
    code: 'bad-teacher',
    message: /A teacher must be a LayersModel/,
    run: (e) => new Distiller({ student: e.student, optimizer: e.optimizer, teacher: 42 as never }),
  },
  // --- use() ----------------------------------------------------------------------------------
  { name: 'null plugin', code: 'bad-plugin', message: /a plugin needs a non-empty name/, run: (e) => e.distiller().use(null as never) },
  {
    name: 'plugin without a name',
    code: 'bad-plugin',
    message: /a plugin needs a non-empty name/,
    run: (e) => e.distiller().use({ loss: () => tf.scalar(0) } as never),
  },
  {
    name: 'two plugins of one name',
    code: 'plugin-name-clash',
    message: /a plugin named "ce" is already in use/,
    run: (e) => e.distiller().use(hardLabel()),
  },
  {
    name: 'negative plugin weight',
    code: 'bad-plugin',
    message: /Plugin "mine": weight must be a finite number >= 0, got -1/,
    run: (e) => e.distiller().use({ name: 'mine', weight: -1 }),
  },
  {
    name: 'NaN plugin weight',
    code: 'bad-plugin',
    message: /weight must be a finite number >= 0, got NaN/,
    run: (e) => e.distiller().use({ name: 'mine', weight: Number.NaN }),
  },
  {
    name: 'string plugin weight',
    code: 'bad-plugin',
    message: /weight must be a finite number >= 0 or a weight schedule .*, got '2'/,
    run: (e) => e.distiller().use({ name: 'mine', weight: '2' as never }),
  },
  {
    name: 'minimumBatch not a positive integer',
    code: 'bad-plugin',
    message: /Plugin "mine": minimumBatch must be an integer >= 1, got 1.5/,
    run: (e) => e.distiller().use({ name: 'mine', minimumBatch: 1.5 }),
  },
  {
    name: 'last batch smaller than a plugin minimumBatch',
    code: 'batch-too-small',
    message:
      /^fit: plugin "pairs" needs batches of at least 7 examples, but \d+ examples in batches of 8 leave a last batch of \d; choose a batch size/,
    run: (e) => e.distiller([{ name: 'pairs', minimumBatch: 7, loss: () => tf.scalar(0) }]).fit(e.data, fitOptions),
  },
  {
    name: 'loss hook not a function',
    code: 'bad-plugin',
    message: /Plugin "mine": loss must be a function, got object/,
    run: (e) => e.distiller().use({ name: 'mine', loss: {} as never }),
  },
  {
    name: 'taps not a list',
    code: 'bad-plugin',
    message: /taps must be \{ student\?: string\[\]/,
    run: (e) => e.distiller().use({ name: 'mine', taps: { student: 'hidden' as never } }),
  },
  {
    name: 'plugin needs a missing teacher',
    code: 'no-teacher',
    message: /Plugin "kd" needs a teacher/,
    run: (e) => new Distiller({ student: e.student, optimizer: e.optimizer }).use(softTargets()),
  },
  {
    name: 'teacher taps without a teacher',
    code: 'no-teacher',
    message: /tap teacher layers \[t_hidden\] but the Distiller has no teacher/,
    run: (e) =>
      new Distiller({ student: e.student, optimizer: e.optimizer })
        .use(hardLabel())
        .use({ name: 'tap', taps: { teacher: ['t_hidden'] } })
        .fit(e.data, fitOptions),
  },
  {
    name: 'use() after fit',
    code: 'plugin-after-setup',
    message: /add plugins before the first fit/,
    run: async (e) => {
      const d = new Distiller({ student: e.student, optimizer: e.optimizer }).use(hardLabel());
      await d.fit(e.data, { epochs: 0 });
      d.use(logitMatching());
    },
  },
  // --- plugin factories -----------------------------------------------------------------------
  {
    name: 'softTargets: misspelt temperature',
    code: 'unknown-option',
    message: /softTargets: unknown option "temprature"; did you mean "temperature"/,
    run: () => softTargets({ temprature: 2 } as never),
  },
  {
    name: 'softTargets: zero temperature',
    code: 'bad-option',
    message: /softTargets: option "temperature" must be > 0, got 0/,
    run: () => softTargets({ temperature: 0 }),
  },
  {
    name: 'softTargets: infinite temperature',
    code: 'bad-option',
    message: /option "temperature"/,
    run: () => softTargets({ temperature: Number.POSITIVE_INFINITY }),
  },
  {
    name: 'softTargets: unknown form',
    code: 'bad-option',
    message: /option "form" must be 'kl' or 'cross-entropy', got 'js'/,
    run: () => softTargets({ form: 'js' as never }),
  },
  {
    name: 'softTargets: negative weight',
    code: 'bad-option',
    message: /option "weight" must be >= 0, got -0.5/,
    run: () => softTargets({ weight: -0.5 }),
  },
  {
    name: 'softTargets: options not an object',
    code: 'bad-option',
    message: /softTargets: options must be an object, got 4/,
    run: () => softTargets(4 as never),
  },
  {
    name: 'hardLabel: negative weight',
    code: 'bad-option',
    message: /hardLabel: option "weight" must be >= 0, got -1/,
    run: () => hardLabel({ weight: -1 }),
  },
  {
    name: 'hardLabel: misspelt weight',
    code: 'unknown-option',
    message: /hardLabel: unknown option "wieght"; did you mean "weight"/,
    run: () => hardLabel({ wieght: 1 } as never),
  },
  {
    name: 'logitMatching: string weight',
    code: 'bad-option',
    message: /logitMatching: option "weight" must be a finite number >= 0 or a weight schedule .*, got 'x'/,
    run: () => logitMatching({ weight: 'x' as never }),
  },
  {
    name: 'logitMatching: unknown option',
    code: 'unknown-option',
    message: /logitMatching: unknown option "temperature" \(known: weight\)/,
    run: () => logitMatching({ temperature: 2 } as never),
  },
  { name: 'ensembleTeacher: no members', code: 'bad-option', message: /members must be a non-empty list/, run: () => ensembleTeacher([]) },
  {
    name: 'ensembleTeacher: unknown mean',
    code: 'bad-option',
    message: /option "mean" must be 'arithmetic' or 'geometric', got 'median'/,
    run: (e) => ensembleTeacher([e.teacher], { mean: 'median' as never }),
  },
  {
    name: 'ensembleTeacher: misspelt mean',
    code: 'unknown-option',
    message: /unknown option "means"; did you mean "mean"/,
    run: (e) => ensembleTeacher([e.teacher], { means: 'geometric' } as never),
  },
  {
    name: 'ensembleTeacher: member of the wrong kind',
    code: 'bad-teacher',
    message: /A teacher must be/,
    run: () => ensembleTeacher([{} as never]),
  },
  // --- schedules, progress, optimizers -------------------------------------------------------
  {
    name: 'stepDecay: descending boundaries',
    code: 'bad-option',
    message: /stepDecay: option "boundaries" must be ascending, got \[5,3\]/,
    run: () => stepDecay({ initial: 0.1, boundaries: [5, 3] }),
  },
  {
    name: 'stepDecay: negative initial',
    code: 'bad-option',
    message: /option "initial" must be > 0, got -1/,
    run: () => stepDecay({ initial: -1, boundaries: [] }),
  },
  {
    name: 'stepDecay: fractional boundary',
    code: 'bad-option',
    message: /option "boundaries\[0\]" must be an integer/,
    run: () => stepDecay({ initial: 0.1, boundaries: [1.5] }),
  },
  {
    name: 'stepDecay: boundaries missing',
    code: 'bad-option',
    message: /option "boundaries" must be an array/,
    run: () => stepDecay({ initial: 0.1 } as never),
  },
  {
    name: 'cosineDecay: misspelt initial',
    code: 'unknown-option',
    message: /cosineDecay: unknown option "inital"; did you mean "initial"/,
    run: () => cosineDecay({ initial: 0.1, inital: 0.1 } as never),
  },
  {
    name: 'cosineDecay: negative final',
    code: 'bad-option',
    message: /option "final" must be >= 0, got -1/,
    run: () => cosineDecay({ initial: 0.1, final: -1 }),
  },
  {
    name: 'linearWarmup: negative steps',
    code: 'bad-option',
    message: /linearWarmup: steps must be an integer >= 0, got -1/,
    run: () => linearWarmup(constantRate(0.1), -1),
  },
  {
    name: 'linearWarmup: not a schedule',
    code: 'bad-option',
    message: /linearWarmup: schedule must be a schedule function/,
    run: () => linearWarmup(0.1 as never, 3),
  },
  {
    name: 'constantRate: zero',
    code: 'bad-option',
    message: /constantRate: rate must be a finite number > 0, got 0/,
    run: () => constantRate(0),
  },
  {
    name: 'progressBar: misspelt width',
    code: 'unknown-option',
    message: /progressBar: unknown option "widht"; did you mean "width"/,
    run: () => progressBar({ widht: 10 } as never),
  },
  {
    name: 'progressBar: zero width',
    code: 'bad-option',
    message: /option "width" must be >= 1, got 0/,
    run: () => progressBar({ width: 0 }),
  },
  {
    name: 'progressBar: sink without write',
    code: 'bad-option',
    message: /option "sink" must be a sink with write\(text\)/,
    run: () => progressBar({ sink: {} as never }),
  },
  {
    name: 'adam: PyTorch-style lr key',
    code: 'unknown-option',
    message: /adam: unknown option "lr" \(known: learningRate, beta1, beta2, epsilon\)/,
    run: () => adam({ lr: 0.1 } as never),
  },
  { name: 'adam: beta1 = 1', code: 'bad-option', message: /adam: option "beta1" must be < 1, got 1/, run: () => adam({ beta1: 1 }) },
  {
    name: 'adamW: negative decay',
    code: 'bad-option',
    message: /adamW: option "weightDecay" must be >= 0/,
    run: () => adamW({ weightDecay: -0.1 }),
  },
  {
    name: 'sgd: negative rate',
    code: 'bad-option',
    message: /sgd: option "learningRate" must be >= 0, got -1/,
    run: () => sgd({ learningRate: -1 }),
  },
  {
    name: 'sgd: rate missing',
    code: 'bad-option',
    message: /sgd: option "learningRate" must be a number, got undefined/,
    run: () => sgd({} as never),
  },
  {
    name: 'sgd: Nesterov without momentum',
    code: 'bad-option',
    message: /"nesterov" needs momentum > 0/,
    run: () => sgd({ learningRate: 0.1, nesterov: true }),
  },
  { name: 'rmsprop: rho = 1', code: 'bad-option', message: /rmsprop: option "rho" must be < 1/, run: () => rmsprop({ rho: 1 }) },
  {
    name: 'rmsprop: misspelt momentum',
    code: 'unknown-option',
    message: /did you mean "momentum"/,
    run: () => rmsprop({ momentun: 0.9 } as never),
  },
  // --- fit options ----------------------------------------------------------------------------
  {
    name: 'fit: misspelt batchSize',
    code: 'unknown-option',
    message: /fit: unknown option "batchsize"; did you mean "batchSize"/,
    run: (e) => e.distiller().fit(e.data, { epochs: 1, batchsize: 8 } as never),
  },
  {
    name: 'fit: misspelt validation',
    code: 'unknown-option',
    message: /fit: unknown option "validaton"; did you mean "validation"/,
    run: (e) => e.distiller().fit(e.data, { epochs: 1, validaton: e.data } as never),
  },
  {
    name: 'fit: negative epochs',
    code: 'bad-option',
    message: /fit: option "epochs" must be >= 0, got -1/,
    run: (e) => e.distiller().fit(e.data, { epochs: -1 }),
  },
  {
    name: 'fit: epochs missing',
    code: 'bad-option',
    message: /fit: option "epochs" must be an integer >= 0, got undefined/,
    run: (e) => e.distiller().fit(e.data, {} as never),
  },
  {
    name: 'fit: options missing',
    code: 'bad-option',
    message: /fit: option "epochs"/,
    run: (e) => e.distiller().fit(e.data, undefined as never),
  },
  {
    name: 'fit: zero batchSize',
    code: 'bad-option',
    message: /option "batchSize" must be > 0, got 0/,
    run: (e) => e.distiller().fit(e.data, { epochs: 1, batchSize: 0 }),
  },
  {
    name: 'fit: fractional batchSize',
    code: 'bad-option',
    message: /option "batchSize" must be an integer, got 2.5/,
    run: (e) => e.distiller().fit(e.data, { epochs: 1, batchSize: 2.5 }),
  },
  {
    name: 'fit: zero maxSteps',
    code: 'bad-option',
    message: /option "maxSteps" must be > 0, got 0/,
    run: (e) => e.distiller().fit(e.data, { epochs: 1, maxSteps: 0 }),
  },
  {
    name: 'fit: negative learning rate',
    code: 'bad-option',
    message: /option "learningRate" must be >= 0 or must be a number or a schedule|option "learningRate"/,
    run: (e) => e.distiller().fit(e.data, { epochs: 1, learningRate: -1 }),
  },
  {
    name: 'fit: learning rate as text',
    code: 'bad-option',
    message: /option "learningRate" .*got 'fast'/,
    run: (e) => e.distiller().fit(e.data, { epochs: 1, learningRate: 'fast' as never }),
  },
  {
    name: 'fit: onEvent not a function',
    code: 'bad-option',
    message: /option "onEvent" must be a function/,
    run: (e) => e.distiller().fit(e.data, { epochs: 1, onEvent: 'log' as never }),
  },
  {
    name: 'fit: checkpoint store without methods',
    code: 'bad-option',
    message: /option "checkpoint" must be a store with save\(\) and load\(\)/,
    run: (e) => e.distiller().fit(e.data, { epochs: 1, checkpoint: {} as never }),
  },
  {
    name: 'fit: resume without a store',
    code: 'bad-option',
    message: /"resume" needs a checkpoint store/,
    run: (e) => e.distiller().fit(e.data, { epochs: 1, resume: true }),
  },
  {
    name: 'fit: checkpointEvery without a store',
    code: 'bad-option',
    message: /"checkpointEvery" needs a checkpoint store/,
    run: (e) => e.distiller().fit(e.data, { epochs: 1, checkpointEvery: 2 }),
  },
  {
    name: 'fit: zero checkpointEvery',
    code: 'bad-option',
    message: /option "checkpointEvery" must be > 0/,
    run: (e) => e.distiller().fit(e.data, { epochs: 1, checkpoint: memoryCheckpointStore(), checkpointEvery: 0 }),
  },
  {
    name: 'fit: shuffle as text',
    code: 'bad-option',
    message: /option "shuffle" must be a boolean, got 'yes'/,
    run: (e) => e.distiller().fit(e.data, { epochs: 1, shuffle: 'yes' as never }),
  },
  {
    name: 'fit: no loss plugin',
    code: 'no-loss',
    message: /no plugin contributes a loss/,
    run: (e) => new Distiller({ student: e.student, optimizer: e.optimizer }).use({ name: 'idle' }).fit(e.data, fitOptions),
  },
  // --- data -----------------------------------------------------------------------------------
  {
    name: 'data missing',
    code: 'bad-data',
    message: /training data: expected \{ x: Tensor, y: Tensor1D \}/,
    run: (e) => e.distiller().fit(null as never, fitOptions),
  },
  {
    name: 'data as arrays',
    code: 'bad-data',
    message: /training data: expected \{ x: Tensor/,
    run: (e) => e.distiller().fit({ x: [[1]], y: [0] } as never, fitOptions),
  },
  {
    name: 'no examples',
    code: 'empty-data',
    message: /training data is empty: x has shape \[0,6\]/,
    run: (e) => e.distiller().fit(e.own({ x: tf.zeros([0, 6]), y: tf.zeros([0], 'int32') as tf.Tensor1D }), fitOptions),
  },
  {
    name: 'one-hot labels',
    code: 'bad-labels',
    message: /y must be 1-D integer class labels \[N\]; got shape \[20,3\].*tf.argMax/,
    run: (e) => e.distiller().fit(e.own({ x: e.data.x, y: tf.oneHot(e.data.y, 3) as never }), fitOptions),
  },
  {
    name: 'fewer labels than examples',
    code: 'bad-data',
    message: /x has 20 examples but y has 19 labels/,
    run: (e) => e.distiller().fit(e.own({ x: e.data.x, y: tf.slice(e.data.y, 0, 19) }), fitOptions),
  },
  {
    name: 'label out of range',
    code: 'label-out-of-range',
    message: /label y\[4\] = 3 is not an integer class in \[0, 3\)/,
    run: (e) =>
      e.distiller().fit(
        e.own({
          x: e.data.x,
          y: tf.tensor1d(
            Array.from({ length: 20 }, (_, i) => (i === 4 ? 3 : 0)),
            'int32',
          ),
        }),
        fitOptions,
      ),
  },
  {
    name: 'negative label',
    code: 'label-out-of-range',
    message: /label y\[0\] = -1/,
    run: (e) =>
      e.distiller().fit(
        e.own({
          x: e.data.x,
          y: tf.tensor1d(
            Array.from({ length: 20 }, (_, i) => (i === 0 ? -1 : 0)),
            'int32',
          ),
        }),
        fitOptions,
      ),
  },
  {
    name: 'fractional label',
    code: 'label-out-of-range',
    message: /label y\[2\] = 1.5/,
    run: (e) =>
      e.distiller().fit(
        e.own({
          x: e.data.x,
          y: tf.tensor1d(
            Array.from({ length: 20 }, (_, i) => (i === 2 ? 1.5 : 0)),
            'float32',
          ),
        }),
        fitOptions,
      ),
  },
  {
    name: 'input of another size',
    code: 'bad-input-shape',
    message: /x has example shape \[5\] but the student expects \[6\]/,
    run: (e) => e.distiller().fit(e.own({ x: tf.zeros([20, 5]), y: e.data.y }), fitOptions),
  },
  {
    name: 'input of another rank',
    code: 'bad-input-shape',
    message: /x has example shape \[2,3\] but the student expects \[6\]/,
    run: (e) => e.distiller().fit(e.own({ x: tf.zeros([20, 2, 3]), y: e.data.y }), fitOptions),
  },
  {
    name: 'NaN in the inputs',
    code: 'non-finite-input',
    message: /training data: x\[3\] holds NaN \(at flat position 2\)/,
    run: (e) =>
      e.distiller().fit(
        withX(e, (v) => {
          v[3 * 6 + 2] = Number.NaN;
        }),
        fitOptions,
      ),
  },
  {
    name: 'Infinity in the inputs',
    code: 'non-finite-input',
    message: /x\[19\] holds Infinity/,
    run: (e) =>
      e.distiller().fit(
        withX(e, (v) => {
          v[19 * 6] = Number.POSITIVE_INFINITY;
        }),
        fitOptions,
      ),
  },
  {
    name: 'NaN in teacherX',
    code: 'non-finite-input',
    message: /training data: teacherX\[0\] holds NaN/,
    run: (e) =>
      e.distiller().fit(
        withX(
          e,
          (v) => {
            v[1] = Number.NaN;
          },
          'teacherX',
        ),
        fitOptions,
      ),
  },
  {
    name: 'teacherX of another length',
    code: 'bad-data',
    message: /x has 20 examples but teacherX has 10/,
    run: (e) => e.distiller().fit(e.own({ x: e.data.x, y: e.data.y, teacherX: tf.zeros([10, 6]) }), fitOptions),
  },
  {
    name: 'teacherX not a tensor',
    code: 'bad-data',
    message: /teacherX must be a tf.Tensor/,
    run: (e) => e.distiller().fit({ x: e.data.x, y: e.data.y, teacherX: [1] as never }, fitOptions),
  },
  {
    name: 'teacher of another input size',
    code: 'teacher-input-mismatch',
    message: /The teacher \(LayersModel .*\) cannot take the training inputs of example shape \[6\]/,
    run: (e) => {
      const t = mlp(7, 4, 3, 9);
      return new Distiller({ student: e.student, teacher: t, optimizer: e.optimizer })
        .use(softTargets())
        .fit(e.data, fitOptions)
        .finally(() => t.dispose());
    },
  },
  {
    name: 'teacher of another class count',
    code: 'class-count-mismatch',
    message: /Teacher outputs 4 classes but the student 3/,
    run: (e) => {
      const t = mlp(6, 4, 4, 9);
      return new Distiller({ student: e.student, teacher: t, optimizer: e.optimizer })
        .use(softTargets())
        .fit(e.data, fitOptions)
        .finally(() => t.dispose());
    },
  },
  {
    name: 'student without 2-D logits',
    code: 'logits-not-2d',
    message: /must output 2-D logits \[batch, classes\]/,
    run: (e) => {
      const m = tfl.sequential({ layers: [tfl.layers.reshape({ inputShape: [6], targetShape: [2, 3] })] });
      return new Distiller({ student: m, optimizer: e.optimizer })
        .use(hardLabel())
        .fit(e.data, fitOptions)
        .finally(() => m.dispose());
    },
  },
  {
    name: 'validation of another input size',
    code: 'bad-input-shape',
    message: /validation data: x has example shape \[4\]/,
    run: (e) =>
      e.distiller().fit(e.data, { ...fitOptions, validation: e.own({ x: tf.zeros([5, 4]), y: tf.zeros([5], 'int32') as tf.Tensor1D }) }),
  },
  {
    name: 'validation label out of range',
    code: 'label-out-of-range',
    message: /validation data: label y\[0\] = 7/,
    run: (e) => e.distiller().fit(e.data, { ...fitOptions, validation: e.own({ x: tf.zeros([2, 6]), y: tf.tensor1d([7, 0], 'int32') }) }),
  },
  {
    name: 'validation not data',
    code: 'bad-option',
    message: /option "validation" must be \{ x, y \} tensors/,
    run: (e) => e.distiller().fit(e.data, { ...fitOptions, validation: 3 as never }),
  },
  // --- lifecycle ------------------------------------------------------------------------------
  {
    name: 'fit after dispose',
    code: 'disposed',
    message: /fit: this Distiller was disposed/,
    run: (e) => {
      const d = e.distiller();
      d.dispose();
      return d.fit(e.data, fitOptions);
    },
  },
  {
    name: 'use after dispose',
    code: 'disposed',
    message: /use: this Distiller was disposed/,
    run: (e) => {
      const d = e.distiller();
      d.dispose();
      d.use(logitMatching());
    },
  },
  {
    name: 'evaluate after dispose',
    code: 'disposed',
    message: /evaluate: this Distiller was disposed/,
    run: (e) => {
      const d = e.distiller();
      d.dispose();
      return d.evaluate(e.data);
    },
  },
  {
    name: 'checkpoint after dispose',
    code: 'disposed',
    message: /checkpoint: this Distiller was disposed/,
    run: (e) => {
      const d = e.distiller();
      d.dispose();
      return d.checkpoint();
    },
  },
  {
    name: 'restore after dispose',
    code: 'disposed',
    message: /restore: this Distiller was disposed/,
    run: async (e) => {
      const c = (await (await savedRun(e)).load())!;
      const d = e.distiller();
      d.dispose();
      return d.restore(c);
    },
  },
  {
    name: 'a second fit while one runs',
    code: 'fit-in-progress',
    message: /already training/,
    run: async (e) => {
      const d = e.distiller();
      const first = d.fit(e.data, { epochs: 0 });
      try {
        await d.fit(e.data, fitOptions);
      } finally {
        await first;
        d.dispose();
      }
    },
  },
  {
    name: 'use() while fit runs',
    code: 'fit-in-progress',
    message: /use: add plugins before fit\(\), not while it runs/,
    run: async (e) => {
      const d = e.distiller();
      let added: unknown;
      await d
        .fit(e.data, {
          epochs: 0,
          batchSize: 20,
          onEvent: (ev) => {
            if (ev.type !== 'fit-start') return;
            try {
              d.use(logitMatching());
            } catch (error) {
              added = error;
            }
          },
        })
        .catch(() => undefined);
      throw added;
    },
  },
  {
    name: 'restore() while fit runs',
    code: 'fit-in-progress',
    message: /restore: wait for fit\(\) to finish/,
    run: async (e) => {
      const saved = (await (await savedRun(e)).load())!;
      const d = e.distiller();
      const first = d.fit(e.data, { epochs: 0 });
      try {
        await d.restore(saved);
      } finally {
        await first;
      }
    },
  },
  {
    name: 'checkpoint before fit',
    code: 'not-set-up',
    message: /nothing to save before fit\(\) has set the plugins up/,
    run: (e) => e.distiller().checkpoint(),
  },
  {
    name: 'restore before fit',
    code: 'not-set-up',
    message: /restore: the plugins are not set up yet; resume with fit/,
    run: async (e) => {
      const c = (await (await savedRun(e)).load())!;
      return e.distiller().restore(c);
    },
  },
  // --- checkpoints and resume -----------------------------------------------------------------
  {
    name: "tfjs' Adam with a checkpoint store",
    code: 'optimizer-not-resumable',
    message: /tfjs' Adam optimizer cannot be checkpointed exactly.*adam\(\{ learningRate \}\) from '@kd\/core'/,
    run: (e) => {
      const o = tf.train.adam(0.01);
      return new Distiller({ student: e.student, optimizer: o })
        .use(hardLabel())
        .fit(e.data, { ...fitOptions, checkpoint: memoryCheckpointStore() })
        .finally(() => o.dispose());
    },
  },
  {
    name: 'resume with fewer plugins',
    code: 'checkpoint-mismatch',
    message: /saved with plugins \[ce, kd\], this Distiller uses \[ce\]; missing: kd/,
    run: async (e) => {
      const store = await savedRun(e);
      return new Distiller({ student: e.student, teacher: e.teacher, optimizer: e.optimizer })
        .use(hardLabel())
        .fit(e.data, { ...fitOptions, checkpoint: store, resume: true });
    },
  },
  {
    name: 'resume with plugins in another order',
    code: 'checkpoint-mismatch',
    message: /\(another order\)/,
    run: async (e) => {
      const store = await savedRun(e);
      return new Distiller({ student: e.student, teacher: e.teacher, optimizer: e.optimizer })
        .use(softTargets())
        .use(hardLabel())
        .fit(e.data, { ...fitOptions, checkpoint: store, resume: true });
    },
  },
  {
    name: 'resume with another data size',
    code: 'checkpoint-mismatch',
    message: /saved for 20 examples of 3 classes, this run has 12 of 3/,
    run: async (e) => {
      const store = await savedRun(e);
      return e
        .distiller()
        .fit(e.own({ x: tf.slice(e.data.x, 0, 12), y: tf.slice(e.data.y, 0, 12) }), { ...fitOptions, checkpoint: store, resume: true });
    },
  },
  {
    name: 'resume with another optimizer',
    code: 'checkpoint-mismatch',
    message: /the checkpoint's optimizer is kd.Sgd, this run's kd.Adam/,
    run: async (e) => {
      const store = await savedRun(e);
      const o = adam();
      return new Distiller({ student: e.student, teacher: e.teacher, optimizer: o })
        .use(hardLabel())
        .use(softTargets())
        .fit(e.data, { ...fitOptions, checkpoint: store, resume: true })
        .finally(() => o.dispose());
    },
  },
  {
    name: 'resume with another architecture',
    code: 'checkpoint-mismatch',
    message: /student weight 0 .* has shape \[6,11\], the checkpoint's .* \[6,10\]/,
    run: async (e) => {
      const store = await savedRun(e);
      const s = mlp(6, 11, 3, 4);
      return new Distiller({ student: s, teacher: e.teacher, optimizer: e.optimizer })
        .use(hardLabel())
        .use(softTargets())
        .fit(e.data, { ...fitOptions, checkpoint: store, resume: true })
        .finally(() => s.dispose());
    },
  },
  {
    name: 'resume with other optimizer settings',
    code: 'checkpoint-mismatch',
    message: /the checkpoint's kd.Sgd has settings \{"momentum":0.9,.*\}, this run's \{"momentum":0,/,
    run: async (e) => {
      const store = await savedRun(e, (env) =>
        new Distiller({ student: mlp(6, 10, 3, 1), teacher: env.teacher, optimizer: sgd({ learningRate: 0.1, momentum: 0.9 }) })
          .use(hardLabel())
          .use(softTargets()),
      );
      return e.distiller().fit(e.data, { ...fitOptions, checkpoint: store, resume: true });
    },
  },
  {
    name: 'resume inside an epoch with another batch size',
    code: 'checkpoint-mismatch',
    message: /taken inside epoch 0 at batch size 8; resume it with batchSize 8 \(this fit asks for 16\)/,
    run: async (e) => {
      const store = memoryCheckpointStore();
      const other = mlp(6, 10, 3, 1);
      const optimizer = sgd({ learningRate: 0.1 });
      const first = new Distiller({ student: other, teacher: e.teacher, optimizer }).use(hardLabel()).use(softTargets());
      await first.fit(e.data, { ...fitOptions, checkpoint: store, maxSteps: 2 });
      first.dispose();
      optimizer.dispose();
      other.dispose();
      return e.distiller().fit(e.data, { epochs: 1, batchSize: 16, checkpoint: store, resume: true });
    },
  },
  {
    name: 'resume with plugin state of another shape',
    code: 'checkpoint-mismatch',
    message: /plugin "bank": tensor "bank" has shape \[5\], the checkpoint's \[3\]/,
    run: async (e) => {
      const store = await savedRun(e, () =>
        new Distiller({ student: mlp(6, 10, 3, 1), optimizer: sgd({ learningRate: 0.1 }) }).use(hardLabel()).use(stateful('bank', 3)),
      );
      const d = new Distiller({ student: e.student, optimizer: e.optimizer }).use(hardLabel()).use(stateful('bank', 5));
      return d.fit(e.data, { ...fitOptions, checkpoint: store, resume: true }).finally(() => d.dispose());
    },
  },
  {
    name: 'restore into an optimizer that has stepped',
    code: 'optimizer-in-use',
    message: /restore into a fresh optimizer/,
    run: async (e) => {
      const store = await savedRun(e);
      const o = sgd({ learningRate: 0.1 });
      const s = mlp(6, 10, 3, 1);
      const d = new Distiller({ student: s, teacher: e.teacher, optimizer: o }).use(hardLabel()).use(softTargets());
      try {
        await d.fit(e.data, fitOptions);
        await d.restore((await store.load())!);
      } finally {
        d.dispose();
        o.dispose();
        s.dispose();
      }
    },
  },
  {
    name: 'checkpoint of another program',
    code: 'bad-checkpoint',
    message: /restore: not a kd checkpoint/,
    run: async (e) => {
      const d = e.distiller();
      await d.fit(e.data, { epochs: 0 });
      return d.restore({ format: 'other' } as never);
    },
  },
  // --- training-time checks (refused before the first update) ---------------------------------
  {
    name: 'trainable filter rejects everything',
    code: 'nothing-to-train',
    message: /the trainable filter rejects all 4 variables/,
    run: (e) =>
      new Distiller({ student: e.student, optimizer: e.optimizer, trainable: () => false }).use(hardLabel()).fit(e.data, fitOptions),
  },
  {
    name: 'loss hook returns a vector',
    code: 'bad-loss',
    message: /Plugin "vec" returned term "vec" that is not a scalar tensor \(shape \[2\]\)/,
    run: (e) => e.distiller([{ name: 'vec', loss: () => tf.ones([2]) as never }]).fit(e.data, fitOptions),
  },
  {
    name: 'loss hook returns nothing',
    code: 'bad-loss',
    message: /Plugin "none": loss must return a scalar tensor or a record of named scalar tensors, got undefined/,
    run: (e) => e.distiller([{ name: 'none', loss: () => undefined as never }]).fit(e.data, fitOptions),
  },
  {
    name: 'two terms of one name',
    code: 'term-name-clash',
    message: /Two plugins return a loss term named "ce"/,
    run: (e) => e.distiller([{ name: 'other', loss: () => ({ ce: tf.scalar(0) }) }]).fit(e.data, fitOptions),
  },
  {
    name: 'teacher read without needsTeacher',
    code: 'teacher-not-declared',
    message: /none of \[.*\] declares needsTeacher/,
    run: (e) =>
      new Distiller({ student: e.student, teacher: e.teacher, optimizer: e.optimizer })
        .use(hardLabel())
        .use({ name: 'peek', loss: (o) => tf.mean(o.teacher!.logits) as tf.Scalar })
        .fit(e.data, fitOptions),
  },
  {
    name: 'plugin labels of an unknown kind',
    code: 'bad-plugin',
    message: /labels must be 'targets' or 'hard', got "soft"/,
    run: (e) => e.distiller().use({ name: 'mine', labels: 'soft' as never }),
  },
  {
    name: 'soft targets reach a hard-label plugin',
    code: 'soft-targets-unsupported',
    message: /plugin\(s\) \[exact\] read only integer labels/,
    run: (e) =>
      e
        .distiller([
          { name: 'mix', transformBatch: (b) => ({ ...b, targets: tf.cast(tf.oneHot(b.y, 3), 'float32') as tf.Tensor2D }) },
          { name: 'exact', labels: 'hard', loss: () => tf.scalar(0) },
        ])
        .fit(e.data, fitOptions),
  },
  {
    name: 'schedule returns NaN',
    code: 'bad-learning-rate',
    message: /Learning-rate schedule returned NaN at step 0/,
    run: (e) => e.distiller().fit(e.data, { ...fitOptions, learningRate: () => Number.NaN }),
  },
  {
    name: 'loss becomes NaN',
    code: 'non-finite-loss',
    message: /Loss term "nan" is NaN at step 0 \(epoch 0\); no update was applied/,
    run: (e) => e.distiller([{ name: 'nan', loss: () => tf.scalar(Number.NaN) }]).fit(e.data, fitOptions),
  },
  // --- fitStages and evaluate -----------------------------------------------------------------
  {
    name: 'fitStages: misspelt key',
    code: 'unknown-option',
    message: /fitStages: unknown option "stage"; did you mean "stages"/,
    run: (e) => fitStages({ student: e.student, stage: [] } as never, e.data),
  },
  {
    name: 'fitStages: misspelt stage key',
    code: 'unknown-option',
    message: /unknown option "stages\[0\].epoch"; did you mean "stages\[0\].epochs"/,
    run: (e) =>
      fitStages({ student: e.student, stages: [{ name: 'a', plugins: [hardLabel()], epoch: 1, optimizer: e.optimizer } as never] }, e.data),
  },
  {
    name: 'fitStages: no stages',
    code: 'bad-option',
    message: /option "stages" must be a list of >= 1 items/,
    run: (e) => fitStages({ student: e.student, stages: [] }, e.data),
  },
  {
    name: 'fitStages: duplicate stage names',
    code: 'bad-stage',
    message: /two stages are named "a"/,
    run: (e) => {
      const s = { name: 'a', plugins: [hardLabel()], epochs: 1, optimizer: e.optimizer };
      return fitStages({ student: e.student, stages: [s, s] }, e.data);
    },
  },
  {
    name: 'fitStages: stage optimizer missing',
    code: 'bad-option',
    message: /option "stages\[0\].optimizer" must be a tf.Optimizer/,
    run: (e) => fitStages({ student: e.student, stages: [{ name: 'a', plugins: [hardLabel()], epochs: 1 } as never] }, e.data),
  },
  {
    name: 'fitStages: a checkpoint inside a stage',
    code: 'unknown-option',
    message: /fitStages: unknown option "stages\[0\].fit.checkpoint"/,
    run: (e) =>
      fitStages(
        {
          student: e.student,
          stages: [
            { name: 'a', plugins: [hardLabel()], epochs: 1, optimizer: e.optimizer, fit: { checkpoint: memoryCheckpointStore() } as never },
          ],
        },
        e.data,
      ),
  },
  {
    name: 'fitStages: resume without a store',
    code: 'bad-option',
    message: /fitStages: option "resume" needs a checkpoint store/,
    run: (e) =>
      fitStages(
        { student: e.student, resume: true, stages: [{ name: 'a', plugins: [hardLabel()], epochs: 1, optimizer: e.optimizer }] },
        e.data,
      ),
  },
  {
    name: 'fitStages: checkpoint of a plain fit',
    code: 'checkpoint-mismatch',
    message: /the checkpoint was not written by fitStages/,
    run: async (e) => {
      const store = await savedRun(e);
      return fitStages(
        {
          student: e.student,
          checkpoint: store,
          resume: true,
          stages: [{ name: 'a', plugins: [hardLabel()], epochs: 1, optimizer: e.optimizer }],
        },
        e.data,
      );
    },
  },
  {
    name: 'evaluate: misspelt batchSize',
    code: 'unknown-option',
    message: /evaluate: unknown option "batchsize"; did you mean "batchSize"/,
    run: (e) => evaluateModel(e.student, e.data, { batchsize: 4 } as never),
  },
  {
    name: 'evaluate: zero batchSize',
    code: 'bad-option',
    message: /evaluate: option "batchSize" must be > 0/,
    run: (e) => evaluateModel(e.student, e.data, { batchSize: 0 }),
  },
  // --- files ----------------------------------------------------------------------------------
  {
    name: 'checkpoint path under a file',
    code: 'io-error',
    message: /exists and is not a directory/,
    run: async (e) => {
      await writeFile(join(e.dir, 'file'), 'x');
      return e.distiller().fit(e.data, { ...fitOptions, checkpoint: fileCheckpointStore(join(e.dir, 'file', 'run.ckpt')) });
    },
  },
  {
    name: 'checkpoint path under /proc',
    code: 'io-error',
    message: /Cannot create directory "\/proc\/kd-battery": ENOENT|Cannot (create directory|write)/,
    run: (e) => e.distiller().fit(e.data, { ...fitOptions, checkpoint: fileCheckpointStore('/proc/kd-battery/run.ckpt') }),
  },
  {
    name: 'checkpoint path not a string',
    code: 'io-error',
    message: /Cannot use checkpoint path "42"/,
    run: () => fileCheckpointStore(42 as never),
  },
  { name: 'saveModel under /proc (no hang)', code: 'io-error', message: /\/proc\/kd-x/, run: (e) => saveModel(e.student, '/proc/kd-x') },
  { name: 'saveModel under /sys (no hang)', code: 'io-error', message: /\/sys\/kd-x/, run: (e) => saveModel(e.student, '/sys/kd-x/model') },
  {
    name: 'saveModel under a file',
    code: 'io-error',
    message: /exists and is not a directory/,
    run: async (e) => {
      await writeFile(join(e.dir, 'file'), 'x');
      return saveModel(e.student, join(e.dir, 'file', 'model'));
    },
  },
  {
    name: 'loadModel of a missing directory',
    code: 'model-not-found',
    message: /No model at ".*nowhere": .*model.json does not exist/,
    run: (e) => loadModel(join(e.dir, 'nowhere')),
  },
  {
    name: 'loadModel of truncated weights',
    code: 'truncated-weights',
    message: /weights\.bin\) hold 100 bytes, the manifest's 4 tensors need 412: the file is truncated/,
    run: async (e) => {
      await saveModel(e.student, join(e.dir, 'm'));
      const w = await readFile(join(e.dir, 'm', 'weights.bin'));
      await writeFile(join(e.dir, 'm', 'weights.bin'), w.subarray(0, 100));
      return loadModel(join(e.dir, 'm'));
    },
  },
  {
    name: 'loadModel without weights.bin',
    code: 'truncated-weights',
    message: /names weights file "\.\/weights\.bin", which does not exist/,
    run: async (e) => {
      await saveModel(e.student, join(e.dir, 'm'));
      await rm(join(e.dir, 'm', 'weights.bin'));
      return loadModel(join(e.dir, 'm'));
    },
  },
  {
    name: 'loadModel of corrupted model.json',
    code: 'bad-model',
    message: /model\.json is not valid JSON/,
    run: async (e) => {
      await mkdir(join(e.dir, 'm'));
      await writeFile(join(e.dir, 'm', 'model.json'), '{"modelTop');
      return loadModel(join(e.dir, 'm'));
    },
  },
  {
    name: 'loadModel of a foreign JSON',
    code: 'bad-model',
    message: /has no weightsManifest: not a tfjs model\.json/,
    run: async (e) => {
      await mkdir(join(e.dir, 'm'));
      await writeFile(join(e.dir, 'm', 'model.json'), '{"name":"x"}');
      return loadModel(join(e.dir, 'm'));
    },
  },
  {
    name: 'checkpoint bytes of another format',
    code: 'bad-checkpoint',
    message: /is not a kd checkpoint \(missing KDCKPT01 header\)/,
    run: () => decodeCheckpoint(new TextEncoder().encode('PK\u0003\u0004 a zip file')),
  },
  {
    name: 'truncated checkpoint',
    code: 'bad-checkpoint',
    message: /checkpoint is truncated/,
    run: async (e) => {
      const b = await tinyCheckpointBytes(e);
      return decodeCheckpoint(b.subarray(0, b.byteLength - 16));
    },
  },
  {
    name: 'checkpoint with a corrupted header',
    code: 'bad-checkpoint',
    message: /the header is not valid JSON \(the file is corrupted\)/,
    run: async (e) => {
      const b = await tinyCheckpointBytes(e);
      b[20] = 0x7b;
      b[21] = 0x7b;
      return decodeCheckpoint(b);
    },
  },
  {
    name: 'checkpoint of format 1',
    code: 'bad-checkpoint',
    message: /has checkpoint format 1, written by an earlier kd/,
    run: async (e) =>
      decodeCheckpoint(
        rewriteHeader(await tinyCheckpointBytes(e), (h) => {
          h['version'] = 1;
        }),
      ),
  },
  {
    name: 'checkpoint with a corrupted field',
    code: 'bad-checkpoint',
    message: /header field "epoch" .*\(the file is corrupted\)/,
    run: async (e) =>
      decodeCheckpoint(
        rewriteHeader(await tinyCheckpointBytes(e), (h) => {
          h['epoch'] = 'x';
          h['history'] = [];
        }),
      ),
  },
  {
    name: 'checkpoint with a tensor of the wrong length',
    code: 'bad-checkpoint',
    message: /tensor "0:.*" has shape \[6,10\] but 59 values \(the file is corrupted\)/,
    run: async (e) =>
      decodeCheckpoint(
        rewriteHeader(await tinyCheckpointBytes(e), (h) => {
          (h['student'] as { length: number }[])[0]!.length = 59;
          h['history'] = [];
        }),
      ),
  },
  {
    name: 'checkpoint file of junk',
    code: 'bad-checkpoint',
    message: /junk\.ckpt is not a kd checkpoint/,
    run: async (e) => {
      await writeFile(join(e.dir, 'junk.ckpt'), 'junk junk junk');
      return e.distiller().fit(e.data, { ...fitOptions, checkpoint: fileCheckpointStore(join(e.dir, 'junk.ckpt')), resume: true });
    },
  },
];

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'kd-battery-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? dir, e.name));
}

describe(`@kd/core bad-input battery (${cases.length} cases)`, () => {
  it('has at least 100 cases, each named once', () => {
    expect(cases.length).toBeGreaterThanOrEqual(100);
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
  });

  for (const [i, c] of cases.entries()) {
    it(`${c.name} -> ${c.code}`, async () => {
      const dir = join(root, String(i));
      await mkdir(dir, { recursive: true });
      const before = tf.memory().numTensors;
      const owned: tf.Tensor[] = [];
      const distillers: Distiller[] = [];
      const student = mlp(6, 10, 3, 100, 's');
      const teacher = mlp(6, 12, 3, 200, 't');
      const data = toyData(20, 6, 3, 3);
      const optimizer = sgd({ learningRate: 0.1 });
      const initial = student.getWeights().map((w) => Array.from(w.dataSync()));
      const env: Env = {
        student,
        teacher,
        data,
        optimizer,
        dir,
        distiller(extra = []) {
          const d = new Distiller({ student, teacher, optimizer }).use(hardLabel()).use(softTargets());
          for (const p of extra) d.use(p);
          distillers.push(d);
          return d;
        },
        own(t) {
          if (t instanceof tf.Tensor) owned.push(t);
          else if (Array.isArray(t)) owned.push(...t);
          else owned.push(...tensorsOf(t as LabeledData));
          return t;
        },
      };
      let caught: unknown;
      try {
        await c.run(env);
      } catch (error) {
        caught = error;
      }
      const weights = student.getWeights().map((w) => Array.from(w.dataSync()));
      const steps = optimizer.iterations;
      for (const d of distillers) {
        try {
          d.dispose();
        } catch {
          // already disposed by the case
        }
      }
      tf.dispose(owned.filter((t) => !t.isDisposed && t !== data.x && t !== data.y));
      optimizer.dispose();
      student.dispose();
      teacher.dispose();
      tf.dispose([data.x, data.y]);
      expect(isDistillationError(caught), `expected a kd error, got ${String(caught)}`).toBe(true);
      const error = caught as { code: string; message: string };
      expect(error.code, error.message).toBe(c.code);
      if (!c.message.test(error.message)) console.log(`MESSAGE ${c.name}: ${error.message}`);
      expect(error.message).toMatch(c.message);
      expect(steps, 'training steps taken').toBe(0);
      expect(weights, 'student weights changed').toEqual(initial);
      expect(tf.memory().numTensors - before, 'tensors leaked').toBe(0);
      expect(
        (await listFiles(dir)).filter((f) => f.includes('.tmp-')),
        'partial files',
      ).toEqual([]);
    });
  }
});
