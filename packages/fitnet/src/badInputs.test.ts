/**
 * Bad-input battery of `@kd/fitnet` (issue 13): every public function and constructor refuses bad
 * options and bad inputs with a typed kd error, before any work, leaking no tensor. One line per
 * case: [what, run, code, message fragment].
 */
import { type DistillationPlugin, Distiller, isDistillationError, SeededRandom, type SetupContext, type StepOutputs } from '@kd/core';
import { expectNoTrainingStep, expectRefused } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import { convNet, disposeData, mlp, toyData } from '../test/helpers';
import { activationBoundary } from './ab';
import { attentionLoss, attentionMap, attentionTransfer } from './attention';
import { FitnetError, type FitnetErrorCode, fitnetErrorCodes } from './errors';
import { fitnet } from './fitnet';
import { flowOfSolution } from './fsp';
import { factorTransfer, Paraphraser, paraphraserTraining } from './ft';
import { neuronSelectivityTransfer, nstLoss } from './nst';
import { HintRegressor, hintLoss, planRegressor } from './regressor';
import { VariationalRegressor, variationalInformation } from './vid';

type Case = readonly [what: string, run: () => unknown, code: string, fragment: string | RegExp];

const taps = { student: 's', teacher: 't' } as const;
const pair = [{ student: 's', teacher: 't' }];

// Long-lived inputs of the tensor cases (disposed after the battery).
const regressor = new HintRegressor([null, 5], [null, 3]);
const x24 = tf.zeros([2, 4]);
const x23 = tf.zeros([2, 3]);
const map4 = tf.zeros([1, 4, 4, 1]) as tf.Tensor4D;
const map3 = tf.zeros([1, 3, 3, 1]) as tf.Tensor4D;
const map4x2 = tf.zeros([2, 4, 4, 1]) as tf.Tensor4D;
const vec = tf.zeros([1, 16]);
const kernel35 = tf.zeros([3, 5]);
const gamma = tf.zeros([3]);
afterAll(() => {
  regressor.dispose();
  tf.dispose([x24, x23, map4, map3, map4x2, vec, kernel35, gamma]);
});

const optionCases: Case[] = [
  // fitnet
  ['fitnet: misspelt "weight"', () => fitnet({ ...taps, wieght: 100 } as never), 'unknown-option', 'did you mean "weight"'],
  ['fitnet: misspelt required "teacher"', () => fitnet({ student: 's', teachr: 't' } as never), 'unknown-option', 'did you mean "teacher"'],
  ['fitnet: misspelt "relu"', () => fitnet({ ...taps, rellu: false } as never), 'unknown-option', 'did you mean "relu"'],
  ['fitnet: an unrelated key', () => fitnet({ ...taps, epsilon: 1e-3 } as never), 'unknown-option', 'unknown option "epsilon"'],
  ['fitnet: no options', () => fitnet(undefined as never), 'bad-option', 'option "student"'],
  ['fitnet: null options', () => fitnet(null as never), 'bad-option', 'fitnet: options'],
  ['fitnet: empty student tap', () => fitnet({ student: '', teacher: 't' }), 'bad-option', 'option "student"'],
  ['fitnet: numeric teacher tap', () => fitnet({ student: 's', teacher: 3 as never }), 'bad-option', 'option "teacher"'],
  ['fitnet: negative weight', () => fitnet({ ...taps, weight: -100 }), 'bad-option', 'option "weight"'],
  ['fitnet: NaN weight', () => fitnet({ ...taps, weight: Number.NaN }), 'bad-option', 'option "weight"'],
  ['fitnet: relu not a boolean', () => fitnet({ ...taps, relu: 1 as never }), 'bad-option', 'option "relu"'],
  ['fitnet: empty name', () => fitnet({ ...taps, name: '' }), 'bad-option', 'option "name"'],
  // attentionTransfer
  [
    'attentionTransfer: misspelt "beta"',
    () => attentionTransfer({ pairs: pair, bet: 10 } as never),
    'unknown-option',
    'did you mean "beta"',
  ],
  [
    'attentionTransfer: misspelt "pairs"',
    () => attentionTransfer({ pairs: pair, pair } as never),
    'unknown-option',
    'did you mean "pairs"',
  ],
  [
    'attentionTransfer: misspelt required pair key',
    () => attentionTransfer({ pairs: [{ studnt: 's', teacher: 't' }] } as never),
    'unknown-option',
    'did you mean "pairs[0].student"',
  ],
  [
    'attentionTransfer: misspelt pair key',
    () => attentionTransfer({ pairs: [{ ...taps, teachr: 't' }] } as never),
    'unknown-option',
    'did you mean "pairs[0].teacher"',
  ],
  ['attentionTransfer: no options', () => attentionTransfer(undefined as never), 'bad-option', 'option "pairs"'],
  ['attentionTransfer: no pairs', () => attentionTransfer({ pairs: [] }), 'bad-option', 'option "pairs"'],
  ['attentionTransfer: pairs not a list', () => attentionTransfer({ pairs: taps as never }), 'bad-option', 'option "pairs"'],
  [
    'attentionTransfer: empty teacher tap',
    () => attentionTransfer({ pairs: [{ student: 'a', teacher: '' }] }),
    'bad-option',
    'option "pairs[0].teacher"',
  ],
  [
    'attentionTransfer: second pair without student',
    () => attentionTransfer({ pairs: [taps, { teacher: 't' } as never] }),
    'bad-option',
    'option "pairs[1].student"',
  ],
  ['attentionTransfer: negative beta', () => attentionTransfer({ pairs: pair, beta: -1000 }), 'bad-option', 'option "beta"'],
  [
    'attentionTransfer: infinite beta',
    () => attentionTransfer({ pairs: pair, beta: Number.POSITIVE_INFINITY }),
    'bad-option',
    'option "beta"',
  ],
  ['attentionTransfer: p 0', () => attentionTransfer({ pairs: pair, p: 0 }), 'bad-option', 'option "p"'],
  ['attentionTransfer: p a string', () => attentionTransfer({ pairs: pair, p: '2' as never }), 'bad-option', 'option "p"'],
  ['attentionTransfer: empty name', () => attentionTransfer({ pairs: pair, name: '' }), 'bad-option', 'option "name"'],
  // neuronSelectivityTransfer
  [
    'neuronSelectivityTransfer: misspelt "weight"',
    () => neuronSelectivityTransfer({ pairs: pair, wieght: 1 } as never),
    'unknown-option',
    'did you mean "weight"',
  ],
  [
    'neuronSelectivityTransfer: misspelt pair key',
    () => neuronSelectivityTransfer({ pairs: [{ student: 's', teacer: 't' }] } as never),
    'unknown-option',
    'did you mean "pairs[0].teacher"',
  ],
  ['neuronSelectivityTransfer: no pairs', () => neuronSelectivityTransfer({ pairs: [] }), 'bad-option', 'option "pairs"'],
  [
    'neuronSelectivityTransfer: NaN weight',
    () => neuronSelectivityTransfer({ pairs: pair, weight: Number.NaN }),
    'bad-option',
    'option "weight"',
  ],
  [
    'neuronSelectivityTransfer: negative weight',
    () => neuronSelectivityTransfer({ pairs: pair, weight: -50 }),
    'bad-option',
    'option "weight"',
  ],
  ['nstLoss: a student that is not a tensor', () => nstLoss([1] as never, map4), 'bad-option', 'student must be a tensor'],
  // variationalInformation, VariationalRegressor
  [
    'variationalInformation: misspelt "epsilon"',
    () => variationalInformation({ ...taps, epsilom: 1 } as never),
    'unknown-option',
    'did you mean "epsilon"',
  ],
  ['variationalInformation: no teacher', () => variationalInformation({ student: 's' } as never), 'bad-option', 'option "teacher"'],
  ['variationalInformation: negative weight', () => variationalInformation({ ...taps, weight: -1 }), 'bad-option', 'option "weight"'],
  [
    'variationalInformation: NaN initVariance',
    () => variationalInformation({ ...taps, initVariance: Number.NaN }),
    'bad-option',
    'option "initVariance"',
  ],
  ['variationalInformation: epsilon 0', () => variationalInformation({ ...taps, epsilon: 0 }), 'bad-option', 'option "epsilon"'],
  [
    'variationalInformation: hiddenChannels 2.5',
    () => variationalInformation({ ...taps, hiddenChannels: 2.5 }),
    'bad-option',
    'option "hiddenChannels"',
  ],
  [
    'VariationalRegressor: misspelt "initVariance"',
    () => new VariationalRegressor([null, 2, 2, 1], [null, 2, 2, 1], { initVariane: 1 } as never),
    'unknown-option',
    'did you mean "initVariance"',
  ],
  [
    'VariationalRegressor: initVariance not above epsilon (alpha would start as NaN)',
    () => new VariationalRegressor([null, 2, 2, 1], [null, 2, 2, 1], { initVariance: 1e-6, epsilon: 1e-5 }),
    'bad-option',
    'option "initVariance" must be > epsilon (0.00001), got 0.000001',
  ],
  // flowOfSolution
  ['flowOfSolution: misspelt "pairs"', () => flowOfSolution({ pars: [] } as never), 'unknown-option', 'did you mean "pairs"'],
  [
    'flowOfSolution: a pair of one student layer',
    () => flowOfSolution({ pairs: [{ student: ['a'], teacher: ['c', 'd'] }] } as never),
    'bad-option',
    'option "pairs[0].student',
  ],
  [
    'flowOfSolution: an empty teacher layer name',
    () => flowOfSolution({ pairs: [{ student: ['a', 'b'], teacher: ['c', ''] }] }),
    'bad-option',
    'option "pairs[0].teacher[1]"',
  ],
  [
    'flowOfSolution: NaN weight',
    () => flowOfSolution({ pairs: [{ student: ['a', 'b'], teacher: ['c', 'd'] }], weight: Number.NaN }),
    'bad-option',
    'option "weight"',
  ],
  // activationBoundary
  [
    'activationBoundary: misspelt "margin"',
    () => activationBoundary({ ...taps, margn: 1 } as never),
    'unknown-option',
    'did you mean "margin"',
  ],
  ['activationBoundary: negative margin', () => activationBoundary({ ...taps, margin: -1 }), 'bad-option', 'option "margin"'],
  ['activationBoundary: NaN margin', () => activationBoundary({ ...taps, margin: Number.NaN }), 'bad-option', 'option "margin"'],
  ['activationBoundary: margin 0', () => activationBoundary({ ...taps, margin: 0 }), 'bad-option', 'option "margin"'],
  ['activationBoundary: negative weight', () => activationBoundary({ ...taps, weight: -1 }), 'bad-option', 'option "weight"'],
  ['activationBoundary: empty student tap', () => activationBoundary({ student: '', teacher: 't' }), 'bad-option', 'option "student"'],
  // FT
  ['Paraphraser: misspelt "rate"', () => new Paraphraser({ rat: 0.5 } as never), 'unknown-option', 'did you mean "rate"'],
  ['Paraphraser: rate 0', () => new Paraphraser({ rate: 0 }), 'bad-option', 'option "rate"'],
  ['Paraphraser: rate 2', () => new Paraphraser({ rate: 2 }), 'bad-option', 'option "rate"'],
  ['Paraphraser: NaN rate', () => new Paraphraser({ rate: Number.NaN }), 'bad-option', 'option "rate"'],
  [
    'paraphraserTraining: no paraphraser',
    () => paraphraserTraining({ teacher: 't', paraphraser: {} as never }),
    'bad-option',
    'option "paraphraser" must be a Paraphraser',
  ],
  [
    'factorTransfer: misspelt "factor"',
    () => factorTransfer({ ...taps, paraphraser: new Paraphraser(), facter: 'flattened' } as never),
    'unknown-option',
    'did you mean "factor"',
  ],
  [
    'factorTransfer: an unknown factor form',
    () => factorTransfer({ ...taps, paraphraser: new Paraphraser(), factor: 'l2' as never }),
    'bad-option',
    'option "factor"',
  ],
  [
    'factorTransfer: negative weight',
    () => factorTransfer({ ...taps, paraphraser: new Paraphraser(), weight: -200 }),
    'bad-option',
    'option "weight"',
  ],
  // HintRegressor, planRegressor, attention functions
  [
    'HintRegressor: misspelt "epsilon"',
    () => new HintRegressor([null, 4], [null, 2], { epsillon: 1e-3 } as never),
    'unknown-option',
    'did you mean "epsilon"',
  ],
  [
    'HintRegressor: misspelt "seed"',
    () => new HintRegressor([null, 4], [null, 2], { sed: 1 } as never),
    'unknown-option',
    'did you mean "seed"',
  ],
  ['HintRegressor: epsilon 0', () => new HintRegressor([null, 4], [null, 2], { epsilon: 0 }), 'bad-option', 'option "epsilon"'],
  [
    'HintRegressor: seed not a number',
    () => new HintRegressor([null, 4], [null, 2], { seed: 'a' as never }),
    'bad-option',
    'option "seed"',
  ],
  [
    'HintRegressor: relu not a boolean',
    () => new HintRegressor([null, 4], [null, 2], { relu: 'no' as never }),
    'bad-option',
    'option "relu"',
  ],
  [
    'planRegressor: a student shape that is not an array',
    () => planRegressor('16' as never, [null, 4]),
    'bad-option',
    'studentShape must be a shape',
  ],
  [
    'planRegressor: a teacher shape of strings',
    () => planRegressor([null, 4], [null, '4'] as never),
    'bad-option',
    'teacherShape must be a shape',
  ],
  ['attentionMap: p -1', () => attentionMap(map4, -1), 'bad-option', 'attentionMap: p must be a finite number > 0'],
  ['attentionLoss: p NaN', () => attentionLoss(map4, map4, Number.NaN), 'bad-option', 'attentionLoss: p must be'],
  ['attentionLoss: a teacher that is not a tensor', () => attentionLoss(map4, [1, 2] as never), 'bad-option', 'teacher must be a tensor'],
  // core's checkpoint-mismatch, same meaning
  [
    'HintRegressor.setWeights: a kernel of another shape',
    () => regressor.setWeights({ kernel: kernel35 }),
    'checkpoint-mismatch',
    '"kernel" must be [5,3]',
  ],
  ['HintRegressor.setWeights: a weight it lacks', () => regressor.setWeights({ gamma }), 'checkpoint-mismatch', 'no weight "gamma"'],
];

function setupContext(studentShapes: SetupContext['studentShapes'], teacherShapes: SetupContext['teacherShapes']): SetupContext {
  return { dataSize: 8, numClasses: 2, studentShapes, teacherShapes, random: new SeededRandom(1) };
}

/** Runs the plugin's setup and (when `features` is given) one loss on those features. */
async function setupAndLoss<S>(
  plugin: DistillationPlugin<S>,
  context: SetupContext,
  features?: { student: Record<string, tf.Tensor>; teacher: Record<string, tf.Tensor> },
): Promise<void> {
  const state = plugin.setup ? ((await plugin.setup(context)) as S) : (undefined as S);
  try {
    if (features) {
      const logits = tf.zeros([1, 2]) as tf.Tensor2D;
      const outputs = {
        student: { logits, features: features.student },
        teacher: { logits, features: features.teacher },
        batch: { x: vec, y: vec },
      } as unknown as StepOutputs;
      try {
        tf.tidy(() => plugin.loss!(outputs, { state, epoch: 0, step: 0, random: new SeededRandom(2), keep: (t) => t }) as tf.Scalar);
      } finally {
        logits.dispose();
      }
    }
  } finally {
    if (state !== undefined) plugin.dispose?.(state);
  }
}

const fitnetCodeCases: (readonly [FitnetErrorCode, string, () => unknown, string | RegExp])[] = [
  [
    'rank-mismatch',
    'planRegressor: a vector against a map',
    () => planRegressor([null, 16], [null, 4, 4, 2]),
    'rank 2 and the teacher hint rank 4',
  ],
  ['rank-mismatch', 'attentionLoss: a vector', () => attentionLoss(vec as never, map4), 'needs NHWC maps'],
  ['rank-mismatch', 'attentionMap: a vector', () => attentionMap(vec as never), 'must be an NHWC map'],
  [
    'untrained-paraphraser',
    'factorTransfer setup: a paraphraser never built',
    () =>
      setupAndLoss(
        factorTransfer({ ...taps, paraphraser: new Paraphraser() }),
        setupContext({ s: [null, 2, 2, 3] }, { t: [null, 4, 4, 4] }),
      ),
    'was never trained',
  ],
  [
    'rank-mismatch',
    'VariationalRegressor: a vector shape',
    () => new VariationalRegressor([null, 4], [null, 2, 2, 1]),
    'student map must be an NHWC map shape',
  ],
  [
    'unknown-size',
    'VariationalRegressor: unknown teacher channels',
    () => new VariationalRegressor([null, 2, 2, 1], [null, 2, 2, null]),
    "teacher map's channel count must be known",
  ],
  ['rank-mismatch', 'nstLoss: a vector teacher', () => nstLoss(map4, vec as never), 'teacher must be an NHWC map'],
  ['batch-size-mismatch', 'nstLoss: batches 1 and 2', () => nstLoss(map4, map4x2), 'different batch sizes (1 vs 2)'],
  ['unsupported-size-relation', 'nstLoss: 4x4 against 3x3', () => nstLoss(map4, map3), '4/3'],
  [
    'unknown-size',
    'neuronSelectivityTransfer setup: an unknown height',
    () => setupAndLoss(neuronSelectivityTransfer({ pairs: pair }), setupContext({ s: [null, null, 4, 2] }, { t: [null, 4, 4, 2] })),
    'spatial sizes must be known',
  ],
  [
    'missing-feature',
    'neuronSelectivityTransfer loss: the step lacks a map',
    () =>
      setupAndLoss(neuronSelectivityTransfer({ pairs: pair }), setupContext({ s: [null, 4, 4, 1] }, { t: [null, 4, 4, 1] }), {
        student: { s: map4 },
        teacher: {},
      }),
    'no tapped maps for "s" / "t"',
  ],
  [
    'unsupported-rank',
    'planRegressor: rank-3 features',
    () => planRegressor([null, 4, 4], [null, 4, 4]),
    'vectors [batch, features] or NHWC maps',
  ],
  ['unknown-size', 'planRegressor: an unknown height', () => planRegressor([null, null, 4, 2], [null, 4, 4, 2]), 'must be known'],
  [
    'unknown-size',
    'attentionTransfer setup: an unknown width',
    () => setupAndLoss(attentionTransfer({ pairs: pair }), setupContext({ s: [null, 4, null, 2] }, { t: [null, 4, 4, 2] })),
    'spatial sizes must be known',
  ],
  [
    'unsupported-size-relation',
    'planRegressor: student 3x3, teacher 4x4',
    () => planRegressor([null, 3, 3, 2], [null, 4, 4, 2]),
    'not exactly half',
  ],
  [
    'unsupported-size-relation',
    'planRegressor: student narrower',
    () => planRegressor([null, 4, 2, 2], [null, 3, 3, 2]),
    'at least as wide as the teacher',
  ],
  [
    'unsupported-size-relation',
    'planRegressor: stride-2 width off',
    () => planRegressor([null, 4, 4, 2], [null, 2, 3, 2]),
    "not the teacher's 2x3",
  ],
  ['unsupported-size-relation', 'attentionLoss: 4x4 against 3x3', () => attentionLoss(map4, map3), 'integer multiple'],
  [
    'feature-shape-mismatch',
    'HintRegressor.apply: 4 features for 5',
    () => regressor.apply(x24),
    'expected student features [batch, 5], got [2,4]',
  ],
  ['feature-shape-mismatch', 'hintLoss: shapes differ', () => hintLoss(x23, x24), 'differ in shape'],
  [
    'missing-feature',
    'fitnet setup: the student layer has no shape',
    () => setupAndLoss(fitnet(taps), setupContext({}, { t: [null, 3] })),
    'no tapped shape for student layer "s"',
  ],
  [
    'missing-feature',
    'fitnet loss: the step lacks the teacher feature',
    () => setupAndLoss(fitnet(taps), setupContext({ s: [null, 4] }, { t: [null, 3] }), { student: { s: x24 }, teacher: {} }),
    'no tapped teacher layer "t"',
  ],
  [
    'missing-feature',
    'attentionTransfer loss: the step lacks a map',
    () =>
      setupAndLoss(attentionTransfer({ pairs: pair }), setupContext({ s: [null, 4, 4, 1] }, { t: [null, 4, 4, 1] }), {
        student: { s: map4 },
        teacher: {},
      }),
    'no tapped maps for "s" / "t"',
  ],
];

// Plugin failures at fit(): the error, no step taken, nothing leaked.
const maps = toyData(8, [4, 4, 1], 2, 1);
const flatMaps = { x: tf.reshape(maps.x, [8, 16]), y: maps.y, teacherX: maps.x }; // cross-modal: the teacher sees the maps
afterAll(() => {
  disposeData(maps);
  flatMaps.x.dispose();
});

/** fit() that must fail before the first training step. */
async function fitRefused(
  plugin: DistillationPlugin<unknown>,
  models: () => [tfl.LayersModel, tfl.LayersModel | undefined],
  data = maps,
): Promise<void> {
  const [student, teacher] = models();
  const optimizer = tf.train.sgd(0.1);
  const distiller = new Distiller({ student, ...(teacher ? { teacher } : {}), optimizer });
  try {
    distiller.use(plugin);
    await expectNoTrainingStep(student, (onEvent) => distiller.fit(data, { epochs: 1, batchSize: 4, onEvent }));
  } finally {
    distiller.dispose();
    student.dispose();
    teacher?.dispose();
    optimizer.dispose();
  }
}

const convPair = (): [tfl.LayersModel, tfl.LayersModel] => [convNet(4, 2, 1, 2, 1, 'fs'), convNet(4, 3, 1, 2, 2, 'ft')];
const halfPair = (): [tfl.LayersModel, tfl.LayersModel] => [convNet(4, 2, 2, 2, 1, 'fs'), convNet(4, 3, 1, 2, 2, 'ft')];

const pluginCases: (readonly [string, string, () => unknown, string | RegExp])[] = [
  [
    'fit: fitnet map against a vector',
    'rank-mismatch',
    () => fitRefused(fitnet({ student: 'fs_map', teacher: 'ft_flat' }) as DistillationPlugin<unknown>, convPair),
    'Plugin "fitnet" (student "fs_map" -> teacher "ft_flat"): FitNet regressor: the student feature has rank 4',
  ],
  [
    'fit: fitnet vector against a map',
    'rank-mismatch',
    () => fitRefused(fitnet({ student: 'fs_flat', teacher: 'ft_map' }) as DistillationPlugin<unknown>, convPair),
    'rank 2 and the teacher hint rank 4',
  ],
  [
    'fit: attention on a flattened layer',
    'rank-mismatch',
    () => fitRefused(attentionTransfer({ pairs: [{ student: 'fs_map', teacher: 'ft_flat' }] }) as DistillationPlugin<unknown>, convPair),
    'Plugin "at" (student "fs_map" -> teacher "ft_flat"): attention transfer needs NHWC maps',
  ],
  [
    'fit: fitnet with no teacher',
    'no-teacher',
    () =>
      fitRefused(fitnet({ student: 'fs_map', teacher: 'ft_map' }) as DistillationPlugin<unknown>, () => [
        convNet(4, 2, 1, 2, 1, 'fs'),
        undefined,
      ]),
    /teacher/,
  ],
  [
    'fit: fitnet on a layer the student lacks',
    'unknown-layer',
    () => fitRefused(fitnet({ student: 'fs_nope', teacher: 'ft_map' }) as DistillationPlugin<unknown>, convPair),
    'fs_nope',
  ],
  [
    'fit: attention on a layer the teacher lacks',
    'unknown-layer',
    () => fitRefused(attentionTransfer({ pairs: [{ student: 'fs_map', teacher: 'ft_nope' }] }) as DistillationPlugin<unknown>, halfPair),
    'ft_nope',
  ],
  [
    'fit (cross-modal): fitnet on an MLP vector, teacher hint a map',
    'rank-mismatch',
    () =>
      fitRefused(
        fitnet({ student: 'ms_h1', teacher: 'ft_map' }) as DistillationPlugin<unknown>,
        () => [mlp(16, [4], 2, 3, 'ms'), convNet(4, 3, 1, 2, 2, 'ft')],
        flatMaps,
      ),
    'rank 2 and the teacher hint rank 4',
  ],
];

describe('@kd/fitnet refuses bad options', () => {
  it.each(optionCases)('%s', async (_what, run, code, fragment) => {
    await expectRefused(run, code, fragment);
  });
});

describe("@kd/fitnet's own error codes", () => {
  it.each(fitnetCodeCases)('%s: %s', async (code, _what, run, fragment) => {
    await expectRefused(run, code, fragment);
  });

  it('every code of the table is triggered by a case here', () => {
    const covered = new Set<string>([...fitnetCodeCases.map((c) => c[0]), ...pluginCases.map((c) => c[1])]);
    expect(Object.keys(fitnetErrorCodes).filter((c) => !covered.has(c))).toEqual([]);
  });

  it('FitnetError is a DistillationError of its code, with a cause', () => {
    const cause = new Error('inner');
    const error = new FitnetError('unknown-size', 'size', { cause });
    expect(isDistillationError(error, 'unknown-size')).toBe(true);
    expect(isDistillationError(error, 'rank-mismatch')).toBe(false);
    expect(error.name).toBe('FitnetError');
    expect(error.cause).toBe(cause);
  });
});

describe('@kd/fitnet plugins refuse bad runs before the first step', () => {
  it.each(pluginCases)('%s', async (_what, code, run, fragment) => {
    await expectRefused(run, code, fragment);
  });
});

it('battery size (issue 13)', () => {
  expect(optionCases.length + fitnetCodeCases.length + pluginCases.length).toBeGreaterThanOrEqual(50);
});
