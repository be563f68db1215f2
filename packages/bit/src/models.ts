import { optionsSchema, parseOptions } from '@kd/core';
import * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import { BitError } from './errors';
import { GroupNormalization, StandardizedConv2D, type WeightStandardization } from './layers';
import { integer, nameSchema, nonNegative, seedSchema } from './schemas';

type SymbolicTensor = tfl.SymbolicTensor;

/** One stage of a ResNet-v2: `units` pre-activation bottleneck units, the first with `stride`. */
export interface ResNetV2Stage {
  readonly units: number;
  /** Output channels of every unit (the bottleneck's `cmid` is `cout / 4`). */
  readonly cout: number;
  /** Stride of the first unit's 3x3 convolution (and its projection). */
  readonly stride: number;
}

/** Full description of a BiT-style ResNet-v2 (see {@link resNetV2}). */
export interface ResNetV2Config {
  /** `[H, W, C]`; `null` spatial sizes accept any resolution (default `[null, null, 3]`). */
  readonly inputShape?: readonly [number | null, number | null, number];
  /** Root convolution: kernel size, stride and filters; `pool` adds zero-pad 1 + max-pool 3x3/2 VALID. */
  readonly root: { readonly filters: number; readonly kernelSize: number; readonly stride: number; readonly pool: boolean };
  readonly stages: readonly ResNetV2Stage[];
  readonly classes: number;
  /** Zero-initialise the head (BiT's `zero_head` for fine-tuning). Default false. */
  readonly zeroHead?: boolean;
  /** Groups of every GroupNormalization. Default 32. */
  readonly groups?: number;
  /** Epsilon of every GroupNormalization. Default 1e-5. */
  readonly epsilon?: number;
  /** Weight-standardisation variant. Default `'bit'` (eps 1e-10). */
  readonly standardization?: WeightStandardization;
  /**
   * `'group-ws'` (default): GroupNormalization + StandardizedConv2D. `'batch'`: BatchNormalization
   * (momentum 0.9, `epsilon`) + plain Conv2D (no bias, no standardisation); `groups` and
   * `standardization` are then unused.
   */
  readonly normalization?: Normalization;
  /** Seed of the kernel initialisers (He normal). Default 0. */
  readonly seed?: number;
  /** Model name. Default `'resnet'`. */
  readonly name?: string;
}

const standardizationSchema = z.enum(['bit', 'timm', 'ws']);
const normalizationSchema = z.enum(['group-ws', 'batch']);

/**
 * The normalisation of a ResNet-v2: `'group-ws'` (BiT's GroupNorm + Weight-Standardised
 * convolutions, the default) or `'batch'` (BatchNorm + plain convolutions, the ResNet-v2 BiT
 * replaced; for comparisons at small batch sizes).
 */
export type Normalization = z.infer<typeof normalizationSchema>;
const inputShapeSchema = z.tuple([integer(1).nullable(), integer(1).nullable(), integer(1)], {
  message: 'must be [height, width, channels]',
});

/** Schema of {@link ResNetV2Stage}. */
export const resNetV2StageSchema = optionsSchema<ResNetV2Stage>()({
  units: integer(1, 99),
  cout: integer(4),
  stride: integer(1),
});

/** Schema of {@link ResNetV2Config} (defaults applied). */
export const resNetV2Schema = optionsSchema<ResNetV2Config>()({
  inputShape: inputShapeSchema.default([null, null, 3]),
  root: optionsSchema<ResNetV2Config['root']>()({ filters: integer(1), kernelSize: integer(1), stride: integer(1), pool: z.boolean() }),
  stages: z.array(resNetV2StageSchema).min(1).max(9),
  classes: integer(1),
  zeroHead: z.boolean().default(false),
  groups: integer(1).default(32),
  epsilon: nonNegative.default(1e-5),
  standardization: standardizationSchema.default('bit'),
  normalization: normalizationSchema.default('group-ws'),
  seed: seedSchema.default(0),
  name: nameSchema.default('resnet'),
});

/** Name prefix of every layer: matches the `resnet/` prefix of BiT's `.npz` keys. */
export const BIT_PREFIX = 'resnet/';

/** Name of the globally pooled feature layer (`[batch, channels]`), the natural KD tap. */
export const PRE_LOGITS = `${BIT_PREFIX}pre_logits`;

/**
 * Builds a pre-activation bottleneck ResNet-v2 with Group Normalisation and Weight
 * Standardisation, as BiT's `bit_pytorch/models.py` (docs/methods.md §9.3). NHWC.
 *
 * Layer names follow the reference key layout, so a weight named `<layer>/<weight>` is the
 * `.npz` key: `resnet/root_block/standardized_conv2d/kernel`,
 * `resnet/block{i}/unit{jj}/{a,b,c}/{standardized_conv2d/kernel, group_norm/{gamma,beta}}`,
 * `resnet/block{i}/unit01/a/proj/standardized_conv2d/kernel`, `resnet/group_norm/{gamma,beta}`,
 * `resnet/head/conv2d/{kernel,bias}`. Unit `x -> out = relu(gn_a(x))`; shortcut = projection of
 * `out` (when stride != 1 or channels change) else `x`; `conv_a` 1x1 -> gn_b, relu -> zero-pad 1,
 * `conv_b` 3x3/stride -> gn_c, relu -> `conv_c` 1x1; add. Head: GN, ReLU, global average pool
 * (`resnet/pre_logits`), 1x1 conv with bias, flattened to logits `[batch, classes]`.
 *
 * The configuration is checked first (`unknown-option`, `bad-option`; at most 9 stages of 1..99
 * units); widths that GroupNorm cannot split into `groups` throw `groups-mismatch`.
 */
export function resNetV2(input: ResNetV2Config): tfl.LayersModel {
  const config = parseOptions(resNetV2Schema, input, 'resNetV2');
  return buildResNetV2(config, 'resNetV2');
}

function buildResNetV2(config: z.output<typeof resNetV2Schema>, where: string): tfl.LayersModel {
  const { groups, epsilon, standardization, inputShape, normalization } = config;
  const batch = normalization === 'batch';
  let seed = config.seed;
  if (!batch && config.root.filters % groups !== 0) {
    throw new BitError('groups-mismatch', `${where}: root filters ${config.root.filters} are not divisible into ${groups} groups`);
  }
  for (const [i, s] of config.stages.entries()) {
    if (s.cout % 4 !== 0 || (!batch && (s.cout / 4) % groups !== 0)) {
      throw new BitError(
        'groups-mismatch',
        `${where}: stage ${i + 1} cout ${s.cout}: cout/4 = ${s.cout / 4} must be divisible into ${groups} groups`,
      );
    }
  }
  // The batch variant names its layers `<place>/conv2d` and `<place>/batch_norm` where the GN+WS
  // one has `<place>/standardized_conv2d` and `<place>/group_norm`.
  const conv = (name: string, filters: number, kernelSize: number, stride: number): tfl.layers.Layer =>
    batch
      ? tfl.layers.conv2d({
          name: name.replace(/standardized_conv2d$/, 'conv2d'),
          filters,
          kernelSize,
          strides: stride,
          padding: 'valid',
          useBias: false,
          kernelInitializer: tfl.initializers.heNormal({ seed: seed++ }),
        })
      : new StandardizedConv2D({
          name,
          filters,
          kernelSize,
          strides: stride,
          padding: 'valid',
          standardization,
          kernelInitializer: tfl.initializers.heNormal({ seed: seed++ }),
        });
  const gn = (name: string): tfl.layers.Layer =>
    batch
      ? tfl.layers.batchNormalization({ name: name.replace(/group_norm$/, 'batch_norm'), axis: -1, momentum: 0.9, epsilon })
      : new GroupNormalization({ name, groups, epsilon });
  const relu = (name: string) => tfl.layers.reLU({ name });
  const apply = (layer: tfl.layers.Layer, x: SymbolicTensor): SymbolicTensor => layer.apply(x) as SymbolicTensor;

  const input = tfl.input({ shape: [...inputShape], name: `${BIT_PREFIX}input` });
  const r = config.root;
  let x: SymbolicTensor = input;
  const rootPad = Math.floor(r.kernelSize / 2);
  if (rootPad > 0) x = apply(tfl.layers.zeroPadding2d({ padding: rootPad, name: `${BIT_PREFIX}root_block/pad` }), x);
  x = apply(conv(`${BIT_PREFIX}root_block/standardized_conv2d`, r.filters, r.kernelSize, r.stride), x);
  if (r.pool) {
    x = apply(tfl.layers.zeroPadding2d({ padding: 1, name: `${BIT_PREFIX}root_block/pool_pad` }), x);
    x = apply(tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'valid', name: `${BIT_PREFIX}root_block/pool` }), x);
  }
  let cin = r.filters;
  config.stages.forEach((stage, b) => {
    for (let u = 0; u < stage.units; u++) {
      const prefix = `${BIT_PREFIX}block${b + 1}/unit${String(u + 1).padStart(2, '0')}/`;
      const stride = u === 0 ? stage.stride : 1;
      const cout = stage.cout;
      const cmid = cout / 4;
      const out = apply(relu(`${prefix}a/relu`), apply(gn(`${prefix}a/group_norm`), x));
      const shortcut = stride !== 1 || cin !== cout ? apply(conv(`${prefix}a/proj/standardized_conv2d`, cout, 1, stride), out) : x;
      let y = apply(conv(`${prefix}a/standardized_conv2d`, cmid, 1, 1), out);
      y = apply(relu(`${prefix}b/relu`), apply(gn(`${prefix}b/group_norm`), y));
      y = apply(tfl.layers.zeroPadding2d({ padding: 1, name: `${prefix}b/pad` }), y);
      y = apply(conv(`${prefix}b/standardized_conv2d`, cmid, 3, stride), y);
      y = apply(relu(`${prefix}c/relu`), apply(gn(`${prefix}c/group_norm`), y));
      y = apply(conv(`${prefix}c/standardized_conv2d`, cout, 1, 1), y);
      x = tfl.layers.add({ name: `${prefix}add` }).apply([y, shortcut]) as SymbolicTensor;
      cin = cout;
    }
  });
  x = apply(relu(`${BIT_PREFIX}relu`), apply(gn(`${BIT_PREFIX}group_norm`), x));
  x = apply(tfl.layers.globalAveragePooling2d({ name: PRE_LOGITS }), x);
  x = apply(tfl.layers.reshape({ targetShape: [1, 1, cin], name: `${BIT_PREFIX}head/reshape` }), x);
  x = apply(
    tfl.layers.conv2d({
      name: `${BIT_PREFIX}head/conv2d`,
      filters: config.classes,
      kernelSize: 1,
      useBias: true,
      kernelInitializer: config.zeroHead ? 'zeros' : tfl.initializers.heNormal({ seed: seed++ }),
      biasInitializer: 'zeros',
    }),
    x,
  );
  const logits = apply(tfl.layers.flatten({ name: `${BIT_PREFIX}head/logits` }), x);
  return tfl.model({ inputs: input, outputs: logits, name: config.name });
}

/** Units per stage of the BiT ResNet-v2 depths. */
export const BIT_UNITS: Readonly<Record<50 | 101 | 152, readonly [number, number, number, number]>> = {
  50: [3, 4, 6, 3],
  101: [3, 4, 23, 3],
  152: [3, 8, 36, 3],
};

/** Options of {@link bitResNet}. */
export interface BitResNetOptions {
  readonly depth: 50 | 101 | 152;
  /** Width factor 1..4 (R50x1 ... R152x4). */
  readonly width: 1 | 2 | 3 | 4;
  readonly classes: number;
  /** Zero-initialise the head, as BiT does before fine-tuning. Default false. */
  readonly zeroHead?: boolean;
  /** Default `[null, null, 3]` (any resolution: the network is fully convolutional + GAP). */
  readonly inputShape?: readonly [number | null, number | null, number];
  readonly standardization?: WeightStandardization;
  /** `'group-ws'` (default, BiT's) or `'batch'` (BatchNorm + plain convolutions; no `.npz` weights fit it). */
  readonly normalization?: Normalization;
  readonly seed?: number;
}

/** Schema of {@link BitResNetOptions} (defaults applied). */
export const bitResNetSchema = optionsSchema<BitResNetOptions>()({
  depth: z.literal([50, 101, 152]),
  width: z.literal([1, 2, 3, 4]),
  classes: integer(1),
  zeroHead: z.boolean().default(false),
  inputShape: inputShapeSchema.default([null, null, 3]),
  standardization: standardizationSchema.default('bit'),
  normalization: normalizationSchema.default('group-ws'),
  seed: seedSchema.default(0),
});

/**
 * BiT's ResNet-v2 `R{depth}x{width}`: root 7x7/2 StdConv (64*w), zero-pad 1 + max-pool 3x3/2,
 * stages of cout 256/512/1024/2048 (x w) with stride 1/2/2/2, GN with 32 groups. Weights of the
 * published `.npz` checkpoints load 1:1 with `loadBitWeights` (`@kd/bit/node`).
 */
export function bitResNet(input: BitResNetOptions): tfl.LayersModel {
  const options = parseOptions(bitResNetSchema, input, 'bitResNet');
  const units = BIT_UNITS[options.depth];
  const w = options.width;
  return build('bitResNet', {
    inputShape: options.inputShape,
    root: { filters: 64 * w, kernelSize: 7, stride: 2, pool: true },
    stages: units.map((n, i) => ({ units: n, cout: 256 * w * 2 ** i, stride: i === 0 ? 1 : 2 })),
    classes: options.classes,
    zeroHead: options.zeroHead,
    standardization: options.standardization,
    normalization: options.normalization,
    seed: options.seed,
    name: `bit_r${options.depth}x${w}`,
  });
}

/** Parses a builder's derived configuration (every field in range by construction) and builds it. */
function build(where: string, config: ResNetV2Config): tfl.LayersModel {
  return buildResNetV2(parseOptions(resNetV2Schema, config, where), where);
}

/** Options of {@link bitResNetSmall}. */
export interface BitResNetSmallOptions {
  readonly classes: number;
  /** Default `[null, null, 1]` (Fashion-MNIST); `[null, null, 3]` for CIFAR-like images. */
  readonly inputShape?: readonly [number | null, number | null, number];
  /** Units per stage (3 stages, stride 1/2/2). Default `[1, 1, 1]`. */
  readonly units?: readonly [number, number, number];
  /** Stride of the root 3x3 convolution. Default 1; 2 halves the resolution first (~4x cheaper). */
  readonly rootStride?: number;
  /** Stride of the first unit of each stage. Default `[1, 2, 2]`; `[2, 2, 2]` is ~4x cheaper at 28x28. */
  readonly strides?: readonly [number, number, number];
  /** Width multiplier: root 16*w filters, stage cout 64/128/256 (x w). Default 1. */
  readonly width?: number;
  /** GroupNormalization groups (cmid of stage 1 is 16*w). Default 8. */
  readonly groups?: number;
  readonly zeroHead?: boolean;
  readonly standardization?: WeightStandardization;
  /** `'group-ws'` (default: GN + WS) or `'batch'` (BatchNorm + plain convolutions, `groups` unused). */
  readonly normalization?: Normalization;
  readonly seed?: number;
  readonly name?: string;
}

/** Schema of {@link BitResNetSmallOptions} (defaults applied). */
export const bitResNetSmallSchema = optionsSchema<BitResNetSmallOptions>()({
  classes: integer(1),
  inputShape: inputShapeSchema.default([null, null, 1]),
  units: z.tuple([integer(1, 99), integer(1, 99), integer(1, 99)], { message: 'must be three unit counts' }).default([1, 1, 1]),
  rootStride: integer(1).default(1),
  strides: z.tuple([integer(1), integer(1), integer(1)], { message: 'must be three strides' }).default([1, 2, 2]),
  width: integer(1).default(1),
  groups: integer(1).default(8),
  zeroHead: z.boolean().default(false),
  standardization: standardizationSchema.default('bit'),
  normalization: normalizationSchema.default('group-ws'),
  seed: seedSchema.default(0),
  name: nameSchema.optional(),
});

/**
 * A BiT-style ResNet-v2 for 28x28 / 32x32 inputs that trains on a CPU: root 3x3/1 StdConv
 * without pooling, three stages (stride 1/2/2) of pre-activation bottleneck units, GN + WS,
 * the BiT head. Same layer naming as {@link bitResNet}. Widths that `groups` does not divide
 * throw `groups-mismatch`. `normalization: 'batch'` builds the same network with BatchNorm and
 * plain convolutions (BiT's argument for GN + WS is that BN degrades at small batches).
 */
export function bitResNetSmall(input: BitResNetSmallOptions): tfl.LayersModel {
  const options = parseOptions(bitResNetSmallSchema, input, 'bitResNetSmall');
  const w = options.width;
  const { units, strides } = options;
  return build('bitResNetSmall', {
    inputShape: options.inputShape,
    root: { filters: 16 * w, kernelSize: 3, stride: options.rootStride, pool: false },
    stages: units.map((n, i) => ({ units: n, cout: 64 * w * 2 ** i, stride: strides[i]! })),
    classes: options.classes,
    groups: options.groups,
    zeroHead: options.zeroHead,
    standardization: options.standardization,
    normalization: options.normalization,
    seed: options.seed,
    name: options.name ?? `bit_small_${units.join('')}x${w}`,
  });
}

/** Number of scalar parameters of a model (trainable and not). */
export function countParams(model: tfl.LayersModel): number {
  if (!(model instanceof tfl.LayersModel)) {
    throw new BitError('not-a-layers-model', `countParams: expected a tfjs LayersModel, got ${model === null ? 'null' : typeof model}`);
  }
  return model.weights.reduce((sum, w) => sum + w.shape.reduce<number>((a, b) => a * (b ?? 1), 1), 0);
}
