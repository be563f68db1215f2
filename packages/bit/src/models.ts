import * as tfl from '@tensorflow/tfjs-layers';
import { GroupNormalization, StandardizedConv2D, type WeightStandardization } from './layers';

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
  /** Seed of the kernel initialisers (He normal). Default 0. */
  readonly seed?: number;
  /** Model name. Default `'resnet'`. */
  readonly name?: string;
}

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
 */
export function resNetV2(config: ResNetV2Config): tfl.LayersModel {
  const groups = config.groups ?? 32;
  const epsilon = config.epsilon ?? 1e-5;
  const standardization = config.standardization ?? 'bit';
  let seed = config.seed ?? 0;
  const inputShape = config.inputShape ?? [null, null, 3];
  if (!Number.isInteger(config.classes) || config.classes < 1) {
    throw new Error(`resNetV2: classes must be a positive integer, got ${config.classes}`);
  }
  if (config.stages.length === 0) throw new Error('resNetV2: at least one stage is needed');
  if (config.stages.length > 9) throw new Error('resNetV2: at most 9 stages (block1..block9)');
  for (const [i, s] of config.stages.entries()) {
    if (!Number.isInteger(s.units) || s.units < 1 || s.units > 99) {
      throw new Error(`resNetV2: stage ${i + 1} needs 1..99 units, got ${s.units}`);
    }
    if (s.cout % 4 !== 0 || (s.cout / 4) % groups !== 0 || s.cout % groups !== 0) {
      throw new Error(`resNetV2: stage ${i + 1} cout ${s.cout}: cout/4 = ${s.cout / 4} must be divisible into ${groups} groups`);
    }
  }
  const conv = (name: string, filters: number, kernelSize: number, stride: number) =>
    new StandardizedConv2D({
      name,
      filters,
      kernelSize,
      strides: stride,
      padding: 'valid',
      standardization,
      kernelInitializer: tfl.initializers.heNormal({ seed: seed++ }),
    });
  const gn = (name: string) => new GroupNormalization({ name, groups, epsilon });
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
      const shortcut =
        stride !== 1 || cin !== cout ? apply(conv(`${prefix}a/proj/standardized_conv2d`, cout, 1, stride), out) : x;
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
  return tfl.model({ inputs: input, outputs: logits, name: config.name ?? 'resnet' });
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
  readonly seed?: number;
}

/**
 * BiT's ResNet-v2 `R{depth}x{width}`: root 7x7/2 StdConv (64*w), zero-pad 1 + max-pool 3x3/2,
 * stages of cout 256/512/1024/2048 (x w) with stride 1/2/2/2, GN with 32 groups. Weights of the
 * published `.npz` checkpoints load 1:1 with `loadBitWeights` (`@kd/bit/node`).
 */
export function bitResNet(options: BitResNetOptions): tfl.LayersModel {
  const units = BIT_UNITS[options.depth];
  if (!units) throw new Error(`bitResNet: depth must be 50, 101 or 152, got ${options.depth}`);
  const w = options.width;
  if (![1, 2, 3, 4].includes(w)) throw new Error(`bitResNet: width must be 1, 2, 3 or 4, got ${w}`);
  return resNetV2({
    inputShape: options.inputShape,
    root: { filters: 64 * w, kernelSize: 7, stride: 2, pool: true },
    stages: units.map((n, i) => ({ units: n, cout: 256 * w * 2 ** i, stride: i === 0 ? 1 : 2 })),
    classes: options.classes,
    zeroHead: options.zeroHead,
    standardization: options.standardization,
    seed: options.seed,
    name: `bit_r${options.depth}x${w}`,
  });
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
  readonly seed?: number;
  readonly name?: string;
}

/**
 * A BiT-style ResNet-v2 for 28x28 / 32x32 inputs that trains on a CPU: root 3x3/1 StdConv
 * without pooling, three stages (stride 1/2/2) of pre-activation bottleneck units, GN + WS,
 * the BiT head. Same layer naming as {@link bitResNet}.
 */
export function bitResNetSmall(options: BitResNetSmallOptions): tfl.LayersModel {
  const w = options.width ?? 1;
  if (!Number.isInteger(w) || w < 1) throw new Error(`bitResNetSmall: width must be a positive integer, got ${w}`);
  const units = options.units ?? [1, 1, 1];
  const strides = options.strides ?? [1, 2, 2];
  return resNetV2({
    inputShape: options.inputShape ?? [null, null, 1],
    root: { filters: 16 * w, kernelSize: 3, stride: options.rootStride ?? 1, pool: false },
    stages: units.map((n, i) => ({ units: n, cout: 64 * w * 2 ** i, stride: strides[i] ?? 2 })),
    classes: options.classes,
    groups: options.groups ?? 8,
    zeroHead: options.zeroHead,
    standardization: options.standardization,
    seed: options.seed,
    name: options.name ?? `bit_small_${units.join('')}x${w}`,
  });
}

/** Number of scalar parameters of a model (trainable and not). */
export function countParams(model: tfl.LayersModel): number {
  return model.weights.reduce((sum, w) => sum + w.shape.reduce<number>((a, b) => a * (b ?? 1), 1), 0);
}
