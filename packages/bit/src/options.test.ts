import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRandom } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import { type BadInput, expectRefused, npy, npyRaw, zip } from '../test/helpers';
import { bitEvalPreprocess, bitPreprocess, mixup, preprocessEvalBatch, preprocessTrainBatch, sampleGamma } from './augment';
import { bitErrorCodes } from './errors';
import { bitFineTune } from './finetune';
import { hyperRule, hyperRuleBoundaries } from './hyperrule';
import { GroupNormalization, groupNorm, StandardizedConv2D, standardizeWeight } from './layers';
import { bitResNet, bitResNetSmall, countParams, type ResNetV2Config, resNetV2 } from './models';
import { loadBitWeights, readNpzFile } from './node';
import { assignBitWeights, type NpyArray, parseNpy, parseNpz } from './npz';

const dir = mkdtempSync(join(tmpdir(), 'kd-bit-bad-'));
writeFileSync(join(dir, 'not-a-zip.npz'), 'hello');
const images = tf.zeros([2, 6, 6, 1]);
const flat = tf.zeros([2, 4]);
const scalar = tf.scalar(1);
const ones = tf.ones([1]);
const labels = tf.tensor1d([0, 1], 'int32');
const data = { x: images, y: labels };
const tiny: ResNetV2Config = {
  inputShape: [null, null, 1],
  root: { filters: 4, kernelSize: 3, stride: 1, pool: false },
  stages: [{ units: 1, cout: 16, stride: 1 }],
  groups: 4,
  classes: 3,
};
const model = resNetV2(tiny);
const rule = hyperRule({ trainSize: 2, imageSize: 6 });
const random = new SeededRandom(1);
const pre = { resize: 8, crop: 6 };
const arrays = new Map<string, NpyArray>();
const f32 = npy([2], [1, 2]);
const stored = zip([{ name: 'a.npy', data: f32 }]);
const deflated = zip([{ name: 'a.npy', data: f32, deflate: true }]);
const bzip2 = Uint8Array.from(stored);
bzip2[8] = 12; // local header: compression method
bzip2[30 + 'a.npy'.length + f32.length + 10] = 12; // central directory entry: compression method
const many = (n: number) => Array.from({ length: n }, () => ({ units: 1, cout: 16, stride: 1 }));
afterAll(() => {
  tf.dispose([images, flat, scalar, ones, labels]);
  model.dispose();
  rmSync(dir, { recursive: true, force: true });
});

// Each case: [label, call, code, message fragment]; every one must also leave no tensor behind.
const cases: BadInput[] = [
  // GroupNormalization, groupNorm
  ['GroupNormalization: unknown key', () => new GroupNormalization({ group: 4 } as never), 'unknown-option', 'did you mean "groups"'],
  ['GroupNormalization: groups 0', () => new GroupNormalization({ groups: 0 }), 'bad-option', 'GroupNormalization: option "groups"'],
  ['GroupNormalization: negative epsilon', () => new GroupNormalization({ epsilon: -1 }), 'bad-option', 'option "epsilon"'],
  [
    'GroupNormalization: unknown initializer name',
    () => new GroupNormalization({ gammaInitializer: 'orthogonal' }),
    'bad-option',
    'option "gammaInitializer"',
  ],
  [
    'GroupNormalization: group-norm-channels',
    () => new GroupNormalization({ groups: 5 }).apply(tfl.input({ shape: [2, 2, 12] })),
    'group-norm-channels',
    '12 channels are not divisible into 5 groups',
  ],
  [
    'GroupNormalization: unknown-initializer (saved config)',
    () => GroupNormalization.fromConfig(GroupNormalization, { gammaInitializer: { className: 'Orthogonal', config: {} } }),
    'unknown-initializer',
    'Cannot deserialise initializer Orthogonal',
  ],
  [
    'groupNorm: group-norm-channels',
    () => groupNorm(images, ones, ones, 2, 1e-5),
    'group-norm-channels',
    'has 1 channels, not divisible into 2 groups',
  ],
  ['groupNorm: groups 0', () => groupNorm(images, ones, ones, 0, 1e-5), 'bad-option', 'groupNorm: groups must be an integer >= 1'],
  ['groupNorm: x not a tensor', () => groupNorm([1] as never, ones, ones, 1, 1e-5), 'bad-option', 'groupNorm: x must be a tf.Tensor'],
  // StandardizedConv2D, standardizeWeight
  [
    'StandardizedConv2D: unknown key',
    () => new StandardizedConv2D({ filters: 2, kernelSize: 3, stride: 2 } as never),
    'unknown-option',
    'did you mean "strides"',
  ],
  [
    'StandardizedConv2D: filters 0',
    () => new StandardizedConv2D({ filters: 0, kernelSize: 3 }),
    'bad-option',
    'StandardizedConv2D: option "filters"',
  ],
  ['StandardizedConv2D: filters missing', () => new StandardizedConv2D({ kernelSize: 3 } as never), 'bad-option', 'option "filters"'],
  [
    'StandardizedConv2D: kernelSize [3]',
    () => new StandardizedConv2D({ filters: 2, kernelSize: [3] as never }),
    'bad-option',
    'option "kernelSize"',
  ],
  [
    'StandardizedConv2D: padding causal',
    () => new StandardizedConv2D({ filters: 2, kernelSize: 3, padding: 'causal' as never }),
    'bad-option',
    'option "padding"',
  ],
  [
    'StandardizedConv2D: standardization',
    () => new StandardizedConv2D({ filters: 2, kernelSize: 3, standardization: 'bn' as never }),
    'bad-option',
    'option "standardization"',
  ],
  [
    'StandardizedConv2D: negative epsilon',
    () => new StandardizedConv2D({ filters: 2, kernelSize: 3, epsilon: -1 }),
    'bad-option',
    'option "epsilon"',
  ],
  [
    'StandardizedConv2D: bad-conv-input',
    () => new StandardizedConv2D({ filters: 2, kernelSize: 1 }).apply(tfl.input({ shape: [4] })),
    'bad-conv-input',
    'expected NHWC input with known channels',
  ],
  ['standardizeWeight: bad-kernel', () => standardizeWeight(flat), 'bad-kernel', 'kernel must be a 4-D HWIO tensor, got shape [2,4]'],
  [
    'standardizeWeight: standardization',
    () => standardizeWeight(images, 'bn' as never),
    'bad-option',
    "standardization must be 'bit', 'timm' or 'ws'",
  ],
  ['standardizeWeight: negative epsilon', () => standardizeWeight(images, 'bit', -1), 'bad-option', 'epsilon must be a finite number >= 0'],
  // resNetV2, bitResNet, bitResNetSmall, countParams
  ['resNetV2: unknown key', () => resNetV2({ ...tiny, clases: 3 } as never), 'unknown-option', 'did you mean "classes"'],
  [
    'resNetV2: unknown root key',
    () => resNetV2({ ...tiny, root: { ...tiny.root, strides: 1 } } as never),
    'unknown-option',
    'did you mean "root.stride"',
  ],
  [
    'resNetV2: unknown stage key',
    () => resNetV2({ ...tiny, stages: [{ unit: 1, cout: 16, stride: 1 }] } as never),
    'unknown-option',
    'did you mean "stages[0].units"',
  ],
  ['resNetV2: no stage', () => resNetV2({ ...tiny, stages: [] }), 'bad-option', 'resNetV2: option "stages"'],
  ['resNetV2: 10 stages', () => resNetV2({ ...tiny, stages: many(10) }), 'bad-option', 'option "stages"'],
  [
    'resNetV2: 100 units',
    () => resNetV2({ ...tiny, stages: [{ units: 100, cout: 16, stride: 1 }] }),
    'bad-option',
    'option "stages[0].units"',
  ],
  ['resNetV2: classes 0', () => resNetV2({ ...tiny, classes: 0 }), 'bad-option', 'option "classes"'],
  ['resNetV2: negative epsilon', () => resNetV2({ ...tiny, epsilon: -1 }), 'bad-option', 'option "epsilon"'],
  ['resNetV2: inputShape of 2', () => resNetV2({ ...tiny, inputShape: [28, 28] as never }), 'bad-option', 'option "inputShape"'],
  ['resNetV2: root missing', () => resNetV2({ ...tiny, root: undefined } as never), 'bad-option', 'option "root"'],
  [
    'resNetV2: groups-mismatch (stage)',
    () => resNetV2({ ...tiny, stages: [{ units: 1, cout: 12, stride: 1 }] }),
    'groups-mismatch',
    'stage 1 cout 12: cout/4 = 3 must be divisible into 4 groups',
  ],
  [
    'resNetV2: groups-mismatch (root)',
    () => resNetV2({ ...tiny, root: { ...tiny.root, filters: 6 } }),
    'groups-mismatch',
    'root filters 6 are not divisible into 4 groups',
  ],
  [
    'bitResNet: unknown key',
    () => bitResNet({ depth: 50, width: 1, classes: 10, zerohead: true } as never),
    'unknown-option',
    'did you mean "zeroHead"',
  ],
  ['bitResNet: depth 34', () => bitResNet({ depth: 34 as 50, width: 1, classes: 10 }), 'bad-option', 'bitResNet: option "depth"'],
  ['bitResNet: width 5', () => bitResNet({ depth: 50, width: 5 as 1, classes: 10 }), 'bad-option', 'option "width"'],
  ['bitResNet: classes missing', () => bitResNet({ depth: 50, width: 1 } as never), 'bad-option', 'option "classes"'],
  ['bitResNetSmall: unknown key', () => bitResNetSmall({ classes: 10, widht: 2 } as never), 'unknown-option', 'did you mean "width"'],
  [
    'bitResNetSmall: two unit counts',
    () => bitResNetSmall({ classes: 10, units: [1, 1] as never }),
    'bad-option',
    'bitResNetSmall: option "units"',
  ],
  ['bitResNetSmall: rootStride 0', () => bitResNetSmall({ classes: 10, rootStride: 0 }), 'bad-option', 'option "rootStride"'],
  ['bitResNetSmall: empty name', () => bitResNetSmall({ classes: 10, name: '' }), 'bad-option', 'option "name"'],
  [
    'bitResNetSmall: groups-mismatch',
    () => bitResNetSmall({ classes: 10, groups: 32 }),
    'groups-mismatch',
    'bitResNetSmall: root filters 16 are not divisible into 32 groups',
  ],
  ['countParams: not-a-layers-model', () => countParams({} as never), 'not-a-layers-model', 'countParams: expected a tfjs LayersModel'],
  // hyperRule
  [
    'hyperRule: unknown key',
    () => hyperRule({ trainSize: 10, imageSize: 28, stepScale: 0.1 } as never),
    'unknown-option',
    'did you mean "stepsScale"',
  ],
  ['hyperRule: trainSize 0', () => hyperRule({ trainSize: 0, imageSize: 28 }), 'bad-option', 'hyperRule: option "trainSize"'],
  ['hyperRule: negative imageSize', () => hyperRule({ trainSize: 10, imageSize: -1 }), 'bad-option', 'option "imageSize"'],
  ['hyperRule: imageSize [28]', () => hyperRule({ trainSize: 10, imageSize: [28] as never }), 'bad-option', 'option "imageSize"'],
  [
    'hyperRule: resolution',
    () => hyperRule({ trainSize: 10, imageSize: 28, resolution: 'fast' as never }),
    'bad-option',
    'option "resolution"',
  ],
  ['hyperRule: baseLr 0', () => hyperRule({ trainSize: 10, imageSize: 28, baseLr: 0 }), 'bad-option', 'option "baseLr"'],
  ['hyperRule: batchSize 1.5', () => hyperRule({ trainSize: 10, imageSize: 28, batchSize: 1.5 }), 'bad-option', 'option "batchSize"'],
  [
    'hyperRule: stepsScale NaN',
    () => hyperRule({ trainSize: 10, imageSize: 28, stepsScale: Number.NaN }),
    'bad-option',
    'option "stepsScale"',
  ],
  [
    'hyperRuleBoundaries: trainSize 0',
    () => hyperRuleBoundaries(0),
    'bad-option',
    'hyperRuleBoundaries: trainSize must be an integer >= 1',
  ],
  ['HyperRule.schedule: step -1', () => rule.schedule(-1), 'bad-option', 'step must be an integer >= 0'],
  // mixup, sampleGamma
  ['mixup: unknown key', () => mixup({ alpah: 0.2 } as never), 'unknown-option', 'did you mean "alpha"'],
  ['mixup: negative alpha', () => mixup({ alpha: -1 }), 'bad-option', 'mixup: option "alpha"'],
  ['mixup: alpha missing', () => mixup({} as never), 'bad-option', 'option "alpha"'],
  ['sampleGamma: shape 0', () => sampleGamma(0, random), 'bad-option', 'sampleGamma: shape must be a finite number > 0'],
  // preprocessing
  [
    'preprocessTrainBatch: unknown key',
    () => preprocessTrainBatch(images, { ...pre, flipp: true } as never, random),
    'unknown-option',
    'did you mean "flip"',
  ],
  [
    'preprocessTrainBatch: resize 0',
    () => preprocessTrainBatch(images, { resize: 0, crop: 6 }, random),
    'bad-option',
    'preprocessTrainBatch: option "resize"',
  ],
  [
    'preprocessTrainBatch: inputRange [1, 0]',
    () => preprocessTrainBatch(images, { ...pre, inputRange: [1, 0] }, random),
    'bad-option',
    'option "inputRange"',
  ],
  [
    'preprocessTrainBatch: crop-exceeds-resize',
    () => preprocessTrainBatch(images, { resize: 4, crop: 6 }, random),
    'crop-exceeds-resize',
    'crop 6 is larger than resize 4',
  ],
  [
    'preprocessTrainBatch: bad-images',
    () => preprocessTrainBatch(flat, pre, random),
    'bad-images',
    'expected images [N, H, W, C] as a tf.Tensor, got shape [2,4]',
  ],
  [
    'preprocessTrainBatch: random missing',
    () => preprocessTrainBatch(images, pre, undefined as never),
    'bad-option',
    'random must be a SeededRandom',
  ],
  [
    'preprocessEvalBatch: unknown key',
    () => preprocessEvalBatch(images, { ...pre, inputrange: [0, 1] } as never),
    'unknown-option',
    'did you mean "inputRange"',
  ],
  [
    'preprocessEvalBatch: crop-exceeds-resize',
    () => preprocessEvalBatch(images, { resize: 5, crop: 6 }),
    'crop-exceeds-resize',
    'preprocessEvalBatch: crop 6',
  ],
  ['preprocessEvalBatch: bad-images', () => preprocessEvalBatch(scalar, pre), 'bad-images', 'got shape []'],
  ['bitPreprocess: unknown key', () => bitPreprocess({ ...pre, size: 3 } as never), 'unknown-option', 'unknown option "size"'],
  ['bitPreprocess: crop 0', () => bitPreprocess({ resize: 8, crop: 0 }), 'bad-option', 'bitPreprocess: option "crop"'],
  ['bitPreprocess: flip not a boolean', () => bitPreprocess({ ...pre, flip: 'yes' as never }), 'bad-option', 'option "flip"'],
  [
    'bitPreprocess: crop-exceeds-resize',
    () => bitPreprocess({ resize: 4, crop: 6 }),
    'crop-exceeds-resize',
    'bitPreprocess: crop 6 is larger than resize 4',
  ],
  [
    'bitEvalPreprocess: unknown key',
    () => bitEvalPreprocess(data, { ...pre, batchsize: 2 } as never),
    'unknown-option',
    'did you mean "batchSize"',
  ],
  [
    'bitEvalPreprocess: batchSize 0',
    () => bitEvalPreprocess(data, { ...pre, batchSize: 0 }),
    'bad-option',
    'bitEvalPreprocess: option "batchSize"',
  ],
  [
    'bitEvalPreprocess: crop-exceeds-resize',
    () => bitEvalPreprocess(data, { resize: 5, crop: 6 }),
    'crop-exceeds-resize',
    'bitEvalPreprocess: crop 6',
  ],
  [
    'bitEvalPreprocess: bad-data',
    () => bitEvalPreprocess({ x: images } as never, pre),
    'bad-data',
    'bitEvalPreprocess: expected { x: Tensor, y: Tensor1D }',
  ],
  [
    'bitEvalPreprocess: bad-images',
    () => bitEvalPreprocess({ x: flat, y: labels }, pre),
    'bad-images',
    'bitEvalPreprocess: expected images',
  ],
  // bitFineTune
  [
    'bitFineTune: unknown key',
    () => bitFineTune(model, data, rule, { batchsize: 4 } as never),
    'unknown-option',
    'did you mean "batchSize"',
  ],
  [
    'bitFineTune: unknown preprocess key',
    () => bitFineTune(model, data, rule, { preprocess: { crp: 3 } } as never),
    'unknown-option',
    'did you mean "preprocess.crop"',
  ],
  ['bitFineTune: momentum 1', () => bitFineTune(model, data, rule, { momentum: 1 }), 'bad-option', 'bitFineTune: option "momentum"'],
  [
    'bitFineTune: preprocess.resize 0',
    () => bitFineTune(model, data, rule, { preprocess: { resize: 0 } }),
    'bad-option',
    'option "preprocess.resize"',
  ],
  ['bitFineTune: negative mixupAlpha', () => bitFineTune(model, data, rule, { mixupAlpha: -1 }), 'bad-option', 'option "mixupAlpha"'],
  ['bitFineTune: teacher 5', () => bitFineTune(model, data, rule, { teacher: 5 as never }), 'bad-option', 'option "teacher"'],
  ['bitFineTune: plugins [5]', () => bitFineTune(model, data, rule, { plugins: [5 as never] }), 'bad-option', 'option "plugins[0]"'],
  ['bitFineTune: validation {}', () => bitFineTune(model, data, rule, { validation: {} as never }), 'bad-option', 'option "validation"'],
  [
    'bitFineTune: onEvent not a function',
    () => bitFineTune(model, data, rule, { onEvent: 'log' as never }),
    'bad-option',
    'option "onEvent"',
  ],
  ['bitFineTune: seed 0.5', () => bitFineTune(model, data, rule, { seed: 0.5 }), 'bad-option', 'option "seed"'],
  [
    'bitFineTune: bad-student',
    () => bitFineTune({} as never, data, rule),
    'bad-student',
    'bitFineTune: the model must be a tfjs LayersModel',
  ],
  [
    'bitFineTune: bad-data',
    () => bitFineTune(model, { x: images } as never, rule),
    'bad-data',
    'bitFineTune: expected { x: Tensor, y: Tensor1D }',
  ],
  [
    'bitFineTune: bad-hyper-rule',
    () => bitFineTune(model, data, { resize: 8, crop: 6 } as never),
    'bad-hyper-rule',
    'rule must be a HyperRule from hyperRule()',
  ],
  [
    'bitFineTune: crop-exceeds-resize (rule)',
    () => bitFineTune(model, data, { ...rule, resize: 4, crop: 6 }),
    'crop-exceeds-resize',
    'bitPreprocess: crop 6',
  ],
  // .npy / .npz
  ['parseNpy: bad-npy (magic)', () => parseNpy(new Uint8Array(16), 'a.npy'), 'bad-npy', 'a.npy: not a .npy file (bad magic)'],
  [
    'parseNpy: bad-npy (truncated data)',
    () => parseNpy(f32.subarray(0, f32.length - 1), 'b.npy'),
    'bad-npy',
    'b.npy: truncated: shape (2) of f4 needs 8 bytes, found 7',
  ],
  ['parseNpy: bad-npy (truncated header)', () => parseNpy(f32.subarray(0, 20), 'h.npy'), 'bad-npy', 'h.npy: truncated: the header needs'],
  ['parseNpy: bad-npy (header)', () => parseNpy(npyRaw("{'descr': '<f4'}", new Uint8Array(4))), 'bad-npy', 'unreadable .npy header'],
  [
    'parseNpy: bad-npy (not bytes)',
    () => parseNpy([1, 2] as never, 'c.npy'),
    'bad-npy',
    'c.npy: expected the file contents as a Uint8Array',
  ],
  [
    'parseNpy: unsupported-npy (Fortran order)',
    () => parseNpy(npyRaw("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", new Uint8Array(4))),
    'unsupported-npy',
    'Fortran-order arrays are not supported',
  ],
  [
    'parseNpy: unsupported-npy (dtype)',
    () => parseNpy(npyRaw("{'descr': '<i2', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(2))),
    'unsupported-npy',
    'unsupported dtype <i2',
  ],
  ['parseNpz: bad-npz (not a zip)', () => parseNpz(new Uint8Array(40), undefined, 'w.npz'), 'bad-npz', 'w.npz: not a zip / .npz file'],
  [
    'parseNpz: bad-npz (truncated)',
    () => parseNpz(Uint8Array.from([...stored.subarray(0, 40), ...stored.subarray(stored.length - 22)]), undefined, 't.npz'),
    'bad-npz',
    't.npz: ',
  ],
  ['parseNpz: bad-npz (not bytes)', () => parseNpz('PK' as never), 'bad-npz', 'expected the file contents as a Uint8Array'],
  [
    'parseNpz: bad-npz (inflate fails)',
    () =>
      parseNpz(
        deflated,
        () => {
          throw new Error('invalid distance');
        },
        'd.npz',
      ),
    'bad-npz',
    'd.npz: a.npy does not inflate (invalid distance)',
  ],
  [
    'parseNpz: npz-needs-inflate',
    () => parseNpz(deflated, undefined, 'd.npz'),
    'npz-needs-inflate',
    'd.npz: a.npy is deflated; pass an inflateRaw function',
  ],
  [
    'parseNpz: unsupported-npz',
    () => parseNpz(bzip2, undefined, 'z.npz'),
    'unsupported-npz',
    'z.npz: a.npy uses unsupported zip compression method 12',
  ],
  ['parseNpz: inflateRaw not a function', () => parseNpz(stored, 5 as never), 'bad-option', 'parseNpz: inflateRaw must be a function'],
  // assignBitWeights, loadBitWeights, readNpzFile
  [
    'assignBitWeights: unknown key',
    () => assignBitWeights(model, arrays, { skiphead: true } as never),
    'unknown-option',
    'did you mean "skipHead"',
  ],
  [
    'assignBitWeights: empty source',
    () => assignBitWeights(model, arrays, { source: '' }),
    'bad-option',
    'assignBitWeights: option "source"',
  ],
  [
    'assignBitWeights: skipHead not a boolean',
    () => assignBitWeights(model, arrays, { skipHead: 1 as never }),
    'bad-option',
    'option "skipHead"',
  ],
  [
    'assignBitWeights: not-a-layers-model',
    () => assignBitWeights({} as never, arrays),
    'not-a-layers-model',
    'assignBitWeights: expected a tfjs LayersModel',
  ],
  ['assignBitWeights: bad-arrays (not a Map)', () => assignBitWeights(model, {} as never), 'bad-arrays', 'expected a Map of arrays by key'],
  [
    'assignBitWeights: bad-arrays (short data)',
    () => assignBitWeights(model, new Map([['k', { shape: [3], dtype: 'float32', data: new Float32Array(2) }]])),
    'bad-arrays',
    'entry k is not an array whose data fills its shape',
  ],
  [
    'assignBitWeights: weights-mismatch',
    () => assignBitWeights(model, arrays, { source: 'empty.npz' }),
    'weights-mismatch',
    'Cannot load empty.npz into',
  ],
  [
    'loadBitWeights: unknown key',
    () => loadBitWeights(model, join(dir, 'x.npz'), { skiphead: true } as never),
    'unknown-option',
    'did you mean "skipHead"',
  ],
  [
    'loadBitWeights: path not a string',
    () => loadBitWeights(model, 5 as never),
    'bad-option',
    'loadBitWeights: path must be a non-empty string',
  ],
  [
    'loadBitWeights: not-a-layers-model',
    () => loadBitWeights({} as never, join(dir, 'x.npz')),
    'not-a-layers-model',
    'loadBitWeights: expected a tfjs LayersModel',
  ],
  ['loadBitWeights: io-error', () => loadBitWeights(model, join(dir, 'missing.npz')), 'io-error', 'Cannot read .npz file'],
  ['readNpzFile: io-error', () => readNpzFile(join(dir, 'missing.npz')), 'io-error', 'missing.npz": ENOENT'],
  ['readNpzFile: bad-npz', () => readNpzFile(join(dir, 'not-a-zip.npz')), 'bad-npz', 'not-a-zip.npz: not a zip / .npz file'],
];

describe('@kd/bit refuses bad inputs', () => {
  it.each(cases)('%s', async (_label, call, code, fragment) => {
    await expectRefused(call, code, fragment);
  });

  it('has a case for every own code', () => {
    const covered = new Set(cases.map((c) => c[2]));
    expect(Object.keys(bitErrorCodes).filter((c) => !covered.has(c))).toEqual([]);
  });

  it('file errors keep their cause and name the path', async () => {
    const path = join(dir, 'missing.npz');
    const error = await expectRefused(() => readNpzFile(path), 'io-error', path);
    expect((error.cause as { code?: string }).code).toBe('ENOENT');
    expect(error.name).toBe('DistillationError');
    const npz = await expectRefused(
      () =>
        parseNpz(deflated, () => {
          throw new Error('x');
        }),
      'bad-npz',
      'does not inflate',
    );
    expect(npz.name).toBe('BitError');
    expect((npz.cause as Error).message).toBe('x');
  });
});
