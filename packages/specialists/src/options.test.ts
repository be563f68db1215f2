import { DistillationError, type RandomAccessSource, SeededRandom, type Teacher } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import { type BadInput, expectRefused, mlp } from '../test/helpers';
import { activeSpecialists, combine, combineDistributions, foldDistribution } from './combine';
import { coverageCounts, SpecialistEnsemble } from './ensemble';
import { specialistsErrorCodes } from './errors';
import { generalistProbabilities } from './probabilities';
import { dustbinShift, sampleSpecialistData, specialistLabels, specialistTrainingSet } from './sampler';
import { shiftDustbin, specialistModel } from './specialist';
import { confusableSubsets, kMeans } from './subsets';
import { trainSpecialist } from './train';

const generalist = mlp(4, 6, 5, 1, 'g');
const specialist = specialistModel(generalist, [0, 1]);
const soft = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 5, activation: 'softmax' })] });
const probs = [
  [0.5, 0.2, 0.1, 0.1, 0.1],
  [0.1, 0.6, 0.1, 0.1, 0.1],
  [0.2, 0.2, 0.2, 0.2, 0.2],
];
const vector = tf.zeros([5]);
const zg = tf.zeros([3, 5]) as tf.Tensor2D;
const zm = tf.zeros([3, 3]) as tf.Tensor2D;
const zWide = tf.zeros([3, 4]) as tf.Tensor2D;
const x = tf.zeros([3, 4]);
const data = { x: tf.zeros([6, 4]), y: tf.tensor1d([0, 1, 2, 3, 4, 0], 'int32') };
const optimizer = tf.train.sgd(0.1);
const random = new SeededRandom(1);
const points = [Float64Array.from([0, 0]), Float64Array.from([1, 1])];
const member = { model: specialist, classes: [0, 1] };
const spec = (logits: tf.Tensor2D, classes = [0, 1], active: ArrayLike<number> = [1, 1, 1]) => ({ classes, logits, active });
const ensemble = new SpecialistEnsemble(generalist, [member]);
/** A teacher that declares its classes (a stored teacher) and is never run. */
const declaring = (numClasses: number): Teacher => ({
  kind: 'kd-teacher',
  description: `declares ${numClasses}`,
  numClasses,
  tap: () => ({}),
  predict: () => {
    throw new DistillationError('bad-teacher', 'never run');
  },
});
const train = { optimizer, epochs: 1 };
/** A source of 6 examples of 4 features that declares no labels (and one that does). */
const unlabelled: RandomAccessSource = {
  kind: 'kd-source',
  size: 6,
  exampleShape: [4],
  description: 'unlabelled',
  read: (positions) => ({ x: new Float32Array(positions.length * 4), y: new Int32Array(positions.length), ids: Array.from(positions) }),
};
const labelled: RandomAccessSource = { ...unlabelled, labels: Int32Array.from([0, 1, 2, 3, 4, 0]), description: 'labelled' };
afterAll(() => {
  tf.dispose([vector, zg, zm, zWide, x, data.x, data.y]);
  optimizer.dispose();
  [generalist, specialist, soft].forEach((m) => m.dispose());
});

// Each case: [label, call, code, message fragment]; every one must also leave no tensor behind.
const cases: BadInput[] = [
  // confusableSubsets
  [
    'confusableSubsets: unknown key',
    () => confusableSubsets(probs, { clusters: 2, sed: 1 } as never),
    'unknown-option',
    'did you mean "seed"',
  ],
  [
    'confusableSubsets: clusters misspelt',
    () => confusableSubsets(probs, { cluster: 2 } as never),
    'unknown-option',
    'did you mean "clusters"',
  ],
  ['confusableSubsets: clusters 0', () => confusableSubsets(probs, { clusters: 0 }), 'bad-option', 'confusableSubsets: option "clusters"'],
  ['confusableSubsets: clusters []', () => confusableSubsets(probs, { clusters: [] }), 'bad-option', 'option "clusters"'],
  ['confusableSubsets: clusters [2, 1.5]', () => confusableSubsets(probs, { clusters: [2, 1.5] }), 'bad-option', 'option "clusters'],
  [
    'confusableSubsets: method pca',
    () => confusableSubsets(probs, { clusters: 2, method: 'pca' as never }),
    'bad-option',
    'option "method"',
  ],
  ['confusableSubsets: restarts 0', () => confusableSubsets(probs, { clusters: 2, restarts: 0 }), 'bad-option', 'option "restarts"'],
  [
    'confusableSubsets: labels a string',
    () => confusableSubsets(probs, { clusters: 2, labels: 'abc' as never }),
    'bad-option',
    'option "labels"',
  ],
  [
    'confusableSubsets: more clusters than classes',
    () => confusableSubsets(probs, { clusters: 6 }),
    'bad-option',
    'option "clusters" must be an integer in [1, 5]',
  ],
  [
    'confusableSubsets: minSize above maxSize',
    () => confusableSubsets(probs, { clusters: 2, minSize: 4, maxSize: 2 }),
    'bad-option',
    'option "minSize" (4) is larger than maxSize (2)',
  ],
  [
    'confusableSubsets: confusion without labels',
    () => confusableSubsets(probs, { clusters: 2, method: 'confusion' }),
    'bad-option',
    'needs the true labels',
  ],
  [
    'confusableSubsets: bad-probabilities (1-D)',
    () => confusableSubsets(vector as never, { clusters: 2 }),
    'bad-probabilities',
    'expected probabilities [N, classes], got shape [5]',
  ],
  [
    'confusableSubsets: bad-probabilities (ragged)',
    () => confusableSubsets([[0.5, 0.5], [1]], { clusters: 1 }),
    'bad-probabilities',
    'row 1 has 1 classes, row 0 2',
  ],
  [
    'confusableSubsets: bad-probabilities (NaN)',
    () =>
      confusableSubsets(
        [
          [0.5, Number.NaN],
          [0.5, 0.5],
        ],
        { clusters: 1 },
      ),
    'bad-probabilities',
    'prediction [0, 1] is NaN',
  ],
  [
    'confusableSubsets: bad-probabilities (not rows)',
    () => confusableSubsets(5 as never, { clusters: 1 }),
    'bad-probabilities',
    'expected a [N, classes] tensor or an array of rows',
  ],
  [
    'confusableSubsets: too-few-predictions',
    () => confusableSubsets([probs[0]!], { clusters: 2 }),
    'too-few-predictions',
    'need at least 2 predictions, got 1',
  ],
  [
    'confusableSubsets: label-count-mismatch',
    () => confusableSubsets(probs, { clusters: 2, method: 'confusion', labels: [0, 1] }),
    'label-count-mismatch',
    '2 labels for 3 predictions',
  ],
  [
    'confusableSubsets: label-out-of-range',
    () => confusableSubsets(probs, { clusters: 2, method: 'confusion', labels: [0, 1, 7] }),
    'label-out-of-range',
    'label 2 = 7 is not a class in [0, 5)',
  ],
  [
    'confusableSubsets: fractional label',
    () => confusableSubsets(probs, { clusters: 2, method: 'confusion', labels: [0, 1.5, 2] }),
    'label-out-of-range',
    'label 1 = 1.5',
  ],
  // kMeans
  ['kMeans: bad-points (none)', () => kMeans([], 1, random), 'bad-points', 'points must be a non-empty array'],
  [
    'kMeans: bad-points (lengths)',
    () => kMeans([Float64Array.from([0, 0]), Float64Array.from([1])], 1, random),
    'bad-points',
    'point 1 is not a Float64Array of 2 finite numbers',
  ],
  ['kMeans: k 0', () => kMeans(points, 0, random), 'bad-option', 'kMeans: k must be an integer >= 1'],
  ['kMeans: more clusters than points', () => kMeans(points, 3, random), 'bad-option', '2 points for 3 clusters'],
  ['kMeans: random missing', () => kMeans(points, 1, undefined as never), 'bad-option', 'random must be a SeededRandom'],
  ['kMeans: restarts -1', () => kMeans(points, 1, random, -1), 'bad-option', 'restarts must be an integer >= 0'],
  // specialistModel, shiftDustbin
  ['specialistModel: unknown key', () => specialistModel(generalist, [0], { nmae: 's' } as never), 'unknown-option', 'did you mean "name"'],
  ['specialistModel: empty name', () => specialistModel(generalist, [0], { name: '' }), 'bad-option', 'specialistModel: option "name"'],
  [
    'specialistModel: bad-generalist (not a model)',
    () => specialistModel({} as never, [0]),
    'bad-generalist',
    'the generalist must be a tfjs LayersModel',
  ],
  [
    'specialistModel: bad-generalist (softmax head)',
    () => specialistModel(soft, [0]),
    'bad-generalist',
    'must output logits (linear activation, with bias)',
  ],
  ['specialistModel: bad-subset (empty)', () => specialistModel(generalist, []), 'bad-subset', 'specialistModel: subset is empty'],
  ['specialistModel: bad-subset (repeats)', () => specialistModel(generalist, [1, 1]), 'bad-subset', 'repeats a class'],
  ['specialistModel: bad-subset (range)', () => specialistModel(generalist, [7]), 'bad-subset', 'class 7 is not in [0, 5)'],
  [
    'specialistModel: bad-subset (all classes)',
    () => specialistModel(generalist, [0, 1, 2, 3, 4]),
    'bad-subset',
    'a specialist needs at least one class for its dustbin',
  ],
  [
    'specialistModel: bad-subset (not an array)',
    () => specialistModel(generalist, 3 as never),
    'bad-subset',
    'must be an array of class indices',
  ],
  ['shiftDustbin: shift NaN', () => shiftDustbin(specialist, Number.NaN), 'bad-option', 'shiftDustbin: shift must be a finite number'],
  ['shiftDustbin: bad-generalist', () => shiftDustbin(soft, 1), 'bad-generalist', "shiftDustbin: the specialist's head"],
  // dustbinShift, specialistLabels, sampleSpecialistData, specialistTrainingSet
  ['dustbinShift: prior 1', () => dustbinShift(1), 'bad-option', 'must lie in (0, 1)'],
  ['dustbinShift: fraction 0', () => dustbinShift(0.3, 0), 'bad-option', 'subsetFraction (0)'],
  ['specialistLabels: label-out-of-range', () => specialistLabels([0, -1], [0]), 'label-out-of-range', 'label 1 is -1'],
  ['specialistLabels: bad-subset', () => specialistLabels([0, 1], [0, 0]), 'bad-subset', 'repeats a class'],
  ['specialistLabels: bad-labels', () => specialistLabels(5 as never, [0]), 'bad-labels', 'labels must be an array'],
  [
    'sampleSpecialistData: unknown key',
    () => sampleSpecialistData([0, 1], [0], { sise: 10 } as never),
    'unknown-option',
    'did you mean "size"',
  ],
  [
    'sampleSpecialistData: size 1',
    () => sampleSpecialistData([0, 1], [0], { size: 1 }),
    'bad-option',
    'sampleSpecialistData: option "size"',
  ],
  [
    'sampleSpecialistData: subsetFraction 1',
    () => sampleSpecialistData([0, 1], [0], { subsetFraction: 1 }),
    'bad-option',
    'option "subsetFraction"',
  ],
  ['sampleSpecialistData: seed a string', () => sampleSpecialistData([0, 1], [0], { seed: 'a' as never }), 'bad-option', 'option "seed"'],
  [
    'sampleSpecialistData: subset-without-examples (no rest)',
    () => sampleSpecialistData([0, 0, 0], [0]),
    'subset-without-examples',
    '3 examples of the subset [0] and 0 of other classes',
  ],
  [
    'sampleSpecialistData: subset-without-examples (no subset)',
    () => sampleSpecialistData([1, 1], [0]),
    'subset-without-examples',
    '0 examples of the subset [0]',
  ],
  ['sampleSpecialistData: bad-subset', () => sampleSpecialistData([0, 1], []), 'bad-subset', 'sampleSpecialistData: subset is empty'],
  [
    'specialistTrainingSet: unknown key',
    () => specialistTrainingSet(data, [0], { subsetfraction: 0.5 } as never),
    'unknown-option',
    'did you mean "subsetFraction"',
  ],
  [
    'specialistTrainingSet: bad-data',
    () => specialistTrainingSet({ x: data.x } as never, [0]),
    'bad-data',
    'specialistTrainingSet: expected { x: Tensor, y: Tensor1D }',
  ],
  [
    'specialistTrainingSet: subset-without-examples',
    () => specialistTrainingSet(data, [0, 1, 2, 3, 4]),
    'subset-without-examples',
    'both must be non-zero',
  ],
  // trainSpecialist
  [
    'trainSpecialist: unknown key',
    () => trainSpecialist(specialist, data, [0, 1], { ...train, epoch: 2 } as never),
    'unknown-option',
    'did you mean "epochs"',
  ],
  [
    'trainSpecialist: optimizer missing',
    () => trainSpecialist(specialist, data, [0, 1], { epochs: 1 } as never),
    'bad-option',
    'trainSpecialist: option "optimizer"',
  ],
  [
    'trainSpecialist: optimizer a string',
    () => trainSpecialist(specialist, data, [0, 1], { ...train, optimizer: 'sgd' as never }),
    'bad-option',
    'option "optimizer"',
  ],
  ['trainSpecialist: epochs 0', () => trainSpecialist(specialist, data, [0, 1], { ...train, epochs: 0 }), 'bad-option', 'option "epochs"'],
  [
    'trainSpecialist: batchSize 0',
    () => trainSpecialist(specialist, data, [0, 1], { ...train, batchSize: 0 }),
    'bad-option',
    'option "batchSize"',
  ],
  [
    'trainSpecialist: onEvent 5',
    () => trainSpecialist(specialist, data, [0, 1], { ...train, onEvent: 5 as never }),
    'bad-option',
    'option "onEvent"',
  ],
  [
    'trainSpecialist: correctDustbin a string',
    () => trainSpecialist(specialist, data, [0, 1], { ...train, correctDustbin: 'yes' as never }),
    'bad-option',
    'option "correctDustbin"',
  ],
  [
    'trainSpecialist: subsetFraction 0',
    () => trainSpecialist(specialist, data, [0, 1], { ...train, subsetFraction: 0 }),
    'bad-option',
    'option "subsetFraction"',
  ],
  [
    'trainSpecialist: bad-student',
    () => trainSpecialist({} as never, data, [0, 1], train),
    'bad-student',
    'trainSpecialist: the specialist must be a tfjs LayersModel',
  ],
  [
    'trainSpecialist: bad-data',
    () => trainSpecialist(specialist, { x: data.x, y: vector } as never, [0, 1], train),
    'bad-data',
    'trainSpecialist: expected { x: Tensor',
  ],
  ['trainSpecialist: bad-subset', () => trainSpecialist(specialist, data, [0, -1], train), 'bad-subset', 'class -1'],
  // DataSources: labels required where the sampler or the confusion matrix needs them
  [
    'trainSpecialist: no-labels',
    () => trainSpecialist(specialist, unlabelled, [0, 1], train),
    'no-labels',
    'trainSpecialist: argument "data" (unlabelled) is a DataSource without labels',
  ],
  [
    'trainSpecialist: bad-input-shape (source)',
    () => trainSpecialist(specialist, { ...labelled, exampleShape: [5] }, [0, 1], train),
    'bad-input-shape',
    'trainSpecialist: argument "data" (labelled): examples have shape [5] but the student expects [4]',
  ],
  [
    'specialistTrainingSet: no-labels',
    () => specialistTrainingSet(unlabelled, [0]),
    'no-labels',
    'specialistTrainingSet: argument "data" (unlabelled)',
  ],
  [
    'specialistTrainingSet: bad-source',
    () => specialistTrainingSet({ ...labelled, read: undefined } as never, [0]),
    'bad-source',
    'a source needs exactly one of read(positions) (random access) or stream() (front to back), it has neither',
  ],
  [
    'sampleSpecialistData: no-labels',
    () => sampleSpecialistData(unlabelled, [0]),
    'no-labels',
    'sampleSpecialistData: argument "labels" (unlabelled)',
  ],
  [
    'confusableSubsets: no-labels',
    () => confusableSubsets(probs, { clusters: 2, method: 'confusion', labels: unlabelled }),
    'no-labels',
    'confusableSubsets: option "labels" (unlabelled)',
  ],
  [
    'generalistProbabilities: unknown key',
    () => generalistProbabilities(generalist, x, { batch: 2 } as never),
    'unknown-option',
    'generalistProbabilities: unknown option "batch"',
  ],
  [
    'generalistProbabilities: bad-data',
    () => generalistProbabilities(generalist, 5 as never),
    'bad-data',
    'generalistProbabilities: data must be',
  ],
  // combineDistributions, activeSpecialists, foldDistribution
  [
    'combineDistributions: unknown key',
    () => combineDistributions(zg, [], { step: 10 } as never),
    'unknown-option',
    'did you mean "steps"',
  ],
  [
    'combineDistributions: steps -1',
    () => combineDistributions(zg, [], { steps: -1 }),
    'bad-option',
    'combineDistributions: option "steps"',
  ],
  ['combineDistributions: lr 0', () => combineDistributions(zg, [], { lr: 0 }), 'bad-option', 'option "lr"'],
  [
    'combineDistributions: solver newton',
    () => combineDistributions(zg, [], { solver: 'newton' as never }),
    'bad-option',
    'option "solver"',
  ],
  ['combineDistributions: trace a string', () => combineDistributions(zg, [], { trace: 'yes' as never }), 'bad-option', 'option "trace"'],
  [
    'combineDistributions: logits-not-2d',
    () => combineDistributions(vector as never, []),
    'logits-not-2d',
    'generalist logits must be [batch, classes], got [5]',
  ],
  [
    'combineDistributions: specialist-output-mismatch',
    () => combineDistributions(zg, [spec(zWide)]),
    'specialist-output-mismatch',
    'specialist 0 covers 2 classes, so its logits must be [3, 3]; got [3,4]',
  ],
  [
    'combineDistributions: bad-active-flags',
    () => combineDistributions(zg, [spec(zm, [0, 1], [1, 0])]),
    'bad-active-flags',
    'specialist 0 has 2 active flags for 3 examples',
  ],
  [
    'combineDistributions: bad-subset',
    () => combineDistributions(zg, [spec(zm, [0, 9])]),
    'bad-subset',
    'specialist 0 classes [0,9]: class 9 is not in [0, 5)',
  ],
  [
    'combineDistributions: specialists not an array',
    () => combineDistributions(zg, 5 as never),
    'bad-option',
    'specialists must be an array',
  ],
  ['activeSpecialists: topN 0', () => activeSpecialists(zg, [[0]], 0), 'bad-option', 'activeSpecialists: option "topN"'],
  [
    'activeSpecialists: logits-not-2d',
    () => activeSpecialists(vector as never, [[0]]),
    'logits-not-2d',
    'activeSpecialists: generalist logits',
  ],
  ['activeSpecialists: bad-subset', () => activeSpecialists(zg, [[5]]), 'bad-subset', 'specialist 0 classes [5]'],
  [
    'foldDistribution: bad-probabilities',
    () => foldDistribution(vector as never, [0]),
    'bad-probabilities',
    'q must be a [batch, classes] tensor',
  ],
  ['foldDistribution: bad-subset', () => foldDistribution(zg, [9]), 'bad-subset', 'class 9 is not in [0, 5)'],
  // combine
  ['combine: unknown key', () => combine(generalist, [member], x, { topn: 2 } as never), 'unknown-option', 'did you mean "topN"'],
  ['combine: topN 0', () => combine(generalist, [member], x, { topN: 0 }), 'bad-option', 'combine: option "topN"'],
  [
    'combine: topN above the classes',
    () => combine(generalist, [member], x, { topN: 6 }),
    'bad-option',
    'option "topN" must be an integer in [1, 5]',
  ],
  [
    'combine: specialist model 5',
    () => combine(generalist, [{ model: 5 as never, classes: [0] }], x),
    'bad-option',
    'option "specialists[0].model"',
  ],
  [
    'combine: unknown specialist key',
    () => combine(generalist, [{ ...member, clases: [1] } as never], x),
    'unknown-option',
    'did you mean "specialists[0].classes"',
  ],
  [
    'combine: bad-subset',
    () => combine(generalist, [{ model: specialist, classes: [] }], x),
    'bad-subset',
    'specialist 0 classes is empty',
  ],
  ['combine: x not a tensor', () => combine(generalist, [member], [[0, 0, 0, 0]] as never), 'bad-option', 'combine: x must be a tf.Tensor'],
  ['combine: bad-teacher', () => combine(5 as never, [member], x), 'bad-teacher', 'combine: the generalist must be a LayersModel'],
  [
    'combine: logits-not-2d',
    () => combine((t: tf.Tensor) => tf.zeros([t.shape[0]!]), [member], x),
    'logits-not-2d',
    'the generalist must output [batch, classes]',
  ],
  [
    'combine: specialist-output-mismatch',
    () => combine(generalist, [{ model: (t: tf.Tensor) => tf.zeros([t.shape[0]!, 2]), classes: [0, 1] }], x, { topN: 5 }),
    'specialist-output-mismatch',
    'must output [batch, 3] logits (last = dustbin)',
  ],
  [
    'combine: generalist rows != examples',
    () => combine((t: tf.Tensor) => tf.zeros([t.shape[0]! + 1, 5]), [member], x),
    'logits-not-2d',
    'combine: the generalist must output [batch, classes] logits, one row per example; it output [4,5] for 3 examples',
  ],
  // SpecialistEnsemble, coverageCounts
  [
    'SpecialistEnsemble: a specialist declares other than classes + 1 outputs',
    () => new SpecialistEnsemble(generalist, [{ model: declaring(4), classes: [0, 1] }]),
    'specialist-output-mismatch',
    'SpecialistEnsemble: specialist 0 covers 2 classes and must output 3 logits (last = dustbin); it declares 4',
  ],
  [
    'SpecialistEnsemble: classes outside the declared numClasses',
    () => new SpecialistEnsemble(declaring(5), [{ model: specialist, classes: [1, 5] }]),
    'bad-subset',
    'SpecialistEnsemble: specialist 0 classes [1,5]: class 5 is not in [0, 5)',
  ],
  [
    'SpecialistEnsemble: unknown key',
    () => new SpecialistEnsemble(generalist, [member], { stepss: 10 } as never),
    'unknown-option',
    'did you mean "steps"',
  ],
  [
    'SpecialistEnsemble: lr -1',
    () => new SpecialistEnsemble(generalist, [member], { lr: -1 }),
    'bad-option',
    'SpecialistEnsemble: option "lr"',
  ],
  [
    'SpecialistEnsemble: specialist model missing',
    () => new SpecialistEnsemble(generalist, [{ classes: [0] } as never]),
    'bad-option',
    'option "specialists[0].model"',
  ],
  [
    'SpecialistEnsemble: bad-subset',
    () => new SpecialistEnsemble(generalist, [{ model: specialist, classes: [0, 0] }]),
    'bad-subset',
    'repeats a class',
  ],
  [
    'SpecialistEnsemble: bad-teacher',
    () => new SpecialistEnsemble(5 as never, [member]),
    'bad-teacher',
    'SpecialistEnsemble: the generalist must be',
  ],
  [
    'SpecialistEnsemble: teacher-not-tappable',
    () => ensemble.tap(['g_hidden']),
    'teacher-not-tappable',
    'the teacher is a SpecialistEnsemble',
  ],
  ['SpecialistEnsemble.combine: unknown key', () => ensemble.combine(x, { topn: 1 } as never), 'unknown-option', 'did you mean "topN"'],
  [
    'SpecialistEnsemble.combine: steps -1',
    () => ensemble.combine(x, { steps: -1 }),
    'bad-option',
    'SpecialistEnsemble.combine: option "steps"',
  ],
  ['SpecialistEnsemble.coverage: 0 classes', () => ensemble.coverage(0), 'bad-option', 'numClasses must be an integer >= 1'],
  [
    'coverageCounts: 1.5 classes',
    () => coverageCounts([], 1.5),
    'bad-option',
    'coverageCounts: numClasses must be an integer >= 1, got 1.5',
  ],
  ['coverageCounts: bad-subset', () => coverageCounts([{}] as never, 3), 'bad-subset', 'specialist 0 has no classes array'],
];

describe('@kd/specialists refuses bad inputs', () => {
  it.each(cases)('%s', async (_label, call, code, fragment) => {
    await expectRefused(call, code, fragment);
  });

  it('has a case for every own code', () => {
    const covered = new Set(cases.map((c) => c[2]));
    expect(Object.keys(specialistsErrorCodes).filter((c) => !covered.has(c))).toEqual([]);
  });

  it('own errors are SpecialistsErrors', async () => {
    const error = await expectRefused(() => specialistModel(generalist, []), 'bad-subset', 'empty');
    expect(error.name).toBe('SpecialistsError');
  });
});
