import { DistillationError, optionsSchema, parseOptions } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import { BitError } from './errors';
import { integer, nameSchema, nonNegative } from './schemas';

type Kwargs = Record<string, unknown>;
/** A tfjs-layers initializer instance (the class is not exported as a value). */
type Initializer = ReturnType<typeof tfl.initializers.zeros>;
/**
 * A tfjs-layers initializer instance (e.g. `tf.initializers.heNormal({ seed })`), described
 * structurally: tfjs-layers does not export its `Initializer` class from its public entry.
 */
export interface LayerInitializer {
  apply(shape: number[], dtype?: tf.DataType): tf.Tensor;
  getClassName(): string;
  getConfig(): tf.serialization.ConfigDict;
}
type Shape = (number | null)[];
type InitializerName = Parameters<typeof tfl.layers.dense>[0]['kernelInitializer'];

function single<T>(x: T | T[]): T {
  return Array.isArray(x) ? x[0]! : x;
}

function singleShape(shape: tfl.Shape | tfl.Shape[]): Shape {
  return (Array.isArray(shape[0]) ? shape[0] : shape) as Shape;
}

function getInitializer(init: LayerInitializer | InitializerName | undefined, fallback: string): Initializer {
  if (init != null && typeof init === 'object' && typeof (init as Initializer).apply === 'function') return init as Initializer;
  const name = (init as string | undefined) ?? fallback;
  switch (name) {
    case 'zeros':
      return tfl.initializers.zeros();
    case 'ones':
      return tfl.initializers.ones();
    case 'heNormal':
      return tfl.initializers.heNormal({});
    case 'glorotUniform':
      return tfl.initializers.glorotUniform({});
    default:
      throw new BitError(
        'unknown-initializer',
        `Unsupported initializer ${String(name)} (use 'zeros', 'ones', 'heNormal', 'glorotUniform' or pass an Initializer instance)`,
      );
  }
}

function serializeInitializer(init: Initializer): unknown {
  return { className: init.getClassName(), config: init.getConfig() };
}

function deserializeInitializer(value: unknown, fallback: string): Initializer {
  if (value == null) return getInitializer(undefined, fallback);
  if (typeof value === 'string') return getInitializer(value as InitializerName, fallback);
  const { className, config } = value as { className: string; config: Record<string, unknown> };
  const factories: Record<string, (c: Record<string, unknown>) => Initializer> = {
    Zeros: () => tfl.initializers.zeros(),
    Ones: () => tfl.initializers.ones(),
    VarianceScaling: (c) => tfl.initializers.varianceScaling(c as never),
    RandomNormal: (c) => tfl.initializers.randomNormal(c as never),
    RandomUniform: (c) => tfl.initializers.randomUniform(c as never),
    TruncatedNormal: (c) => tfl.initializers.truncatedNormal(c as never),
    Constant: (c) => tfl.initializers.constant(c as never),
    GlorotUniform: (c) => tfl.initializers.glorotUniform(c as never),
    GlorotNormal: (c) => tfl.initializers.glorotNormal(c as never),
    HeNormal: (c) => tfl.initializers.heNormal(c as never),
    HeUniform: (c) => tfl.initializers.heUniform(c as never),
  };
  const make = Object.hasOwn(factories, className) ? factories[className] : undefined;
  if (!make) {
    throw new BitError(
      'unknown-initializer',
      `Cannot deserialise initializer ${String(className)} (known: ${Object.keys(factories).join(', ')})`,
    );
  }
  return make(config ?? {});
}

const INITIALIZER_NAMES = ['zeros', 'ones', 'heNormal', 'glorotUniform'] as const;

/**
 * An initializer: one of the names the layers know, or a tfjs Initializer instance. Typed with
 * the package's own alias: the inferred type would name a file inside tfjs-layers' `dist/`, which
 * ESM (`nodenext`) consumers cannot resolve.
 */
const initializerSchema: z.ZodType<LayerInitializer | (typeof INITIALIZER_NAMES)[number]> = z.union([
  z.enum(INITIALIZER_NAMES),
  z.custom<LayerInitializer>((v) => typeof v === 'object' && v !== null && typeof (v as LayerInitializer).apply === 'function', {
    message: 'must be an Initializer',
  }),
]);

const shapeSchema = z.array(integer(1).nullable(), { message: 'must be an array of sizes (null: any)' });

/** The base-layer arguments tfjs keeps in a layer's config (and passes back to the constructor on load). */
const layerArgs = {
  name: nameSchema.optional(),
  inputShape: shapeSchema.optional(),
  batchInputShape: shapeSchema.optional(),
  batchSize: integer(1).optional(),
  dtype: z.enum(['float32', 'int32', 'bool', 'complex64', 'string']).optional(),
  trainable: z.boolean().optional(),
};

/** A saved layer config without what tfjs' deserialiser adds to it (`customObjects`). */
function layerConfig(config: tf.serialization.ConfigDict): tf.serialization.ConfigDict {
  const { customObjects: _, ...rest } = config;
  return rest;
}

// ---------------------------------------------------------------------------------------------

/** Options of {@link GroupNormalization}. */
export interface GroupNormalizationArgs {
  /** Number of channel groups; the channel count must be divisible by it. Default 32. */
  groups?: number;
  /** Added to the group variance. Default 1e-5 (PyTorch `nn.GroupNorm`). */
  epsilon?: number;
  gammaInitializer?: LayerInitializer | InitializerName;
  betaInitializer?: LayerInitializer | InitializerName;
  name?: string;
  inputShape?: Shape;
  /** Base-layer arguments, as in a saved layer config. */
  batchInputShape?: Shape;
  batchSize?: number;
  dtype?: tf.DataType;
  trainable?: boolean;
}

/** Schema of {@link GroupNormalizationArgs} (defaults applied). */
export const groupNormalizationSchema = optionsSchema<GroupNormalizationArgs>()({
  groups: integer(1).default(32),
  epsilon: nonNegative.default(1e-5),
  gammaInitializer: initializerSchema.optional(),
  betaInitializer: initializerSchema.optional(),
  ...layerArgs,
});

const nameCounts = new Map<string, number>();
/**
 * A layer's default name, `<prefix>_<n>` (tfjs derives it from `className`, which holds the
 * `kd>` package prefix, not valid in tensor names).
 */
function defaultName(prefix: string): string {
  const n = (nameCounts.get(prefix) ?? 0) + 1;
  nameCounts.set(prefix, n);
  return `${prefix}_${n}`;
}

/**
 * Group Normalisation (Wu & He 2018) of NHWC (or `[N, ..., C]`) tensors: the channels are split
 * into `groups` groups; each example's group is normalised over its spatial positions and the
 * group's channels (biased variance, `epsilon` inside the square root), then scaled and shifted
 * per CHANNEL by `gamma` (init 1) and `beta` (init 0). Matches PyTorch `F.group_norm` on NCHW.
 * Weight names: `gamma`, `beta` (BiT's `group_norm/{gamma,beta}`).
 */
export class GroupNormalization extends tfl.layers.Layer {
  static readonly className = 'kd>GroupNormalization';
  readonly groups: number;
  readonly epsilon: number;
  private readonly gammaInitializer: Initializer;
  private readonly betaInitializer: Initializer;
  private gamma?: tfl.LayerVariable;
  private beta?: tfl.LayerVariable;

  constructor(args: GroupNormalizationArgs = {}) {
    const parsed = parseOptions(groupNormalizationSchema, args, 'GroupNormalization');
    super({ ...parsed, name: (parsed as { name?: string }).name ?? defaultName('group_normalization') } as never);
    this.groups = parsed.groups;
    this.epsilon = parsed.epsilon;
    this.gammaInitializer = getInitializer(parsed.gammaInitializer, 'ones');
    this.betaInitializer = getInitializer(parsed.betaInitializer, 'zeros');
    this.supportsMasking = true;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = singleShape(inputShape);
    const channels = shape[shape.length - 1];
    if (channels == null)
      throw new BitError('group-norm-channels', `GroupNormalization "${this.name}": the channel dimension must be known`);
    if (channels % this.groups !== 0) {
      throw new BitError(
        'group-norm-channels',
        `GroupNormalization "${this.name}": ${channels} channels are not divisible into ${this.groups} groups`,
      );
    }
    this.gamma = this.addWeight('gamma', [channels], 'float32', this.gammaInitializer);
    this.beta = this.addWeight('beta', [channels], 'float32', this.betaInitializer);
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs);
      return groupNorm(x, this.gamma!.read(), this.beta!.read(), this.groups, this.epsilon);
    });
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return inputShape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      groups: this.groups,
      epsilon: this.epsilon,
      gammaInitializer: serializeInitializer(this.gammaInitializer) as tf.serialization.ConfigDictValue,
      betaInitializer: serializeInitializer(this.betaInitializer) as tf.serialization.ConfigDictValue,
    };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls({
      ...layerConfig(config),
      gammaInitializer: deserializeInitializer(config['gammaInitializer'], 'ones'),
      betaInitializer: deserializeInitializer(config['betaInitializer'], 'zeros'),
    });
  }
}

/**
 * The group-norm computation on a `[N, ..., C]` tensor (functional form of
 * {@link GroupNormalization}). Throws `group-norm-channels` when C is not divisible by `groups`.
 */
export function groupNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, groups: number, epsilon: number): tf.Tensor {
  for (const [what, t] of [
    ['x', x],
    ['gamma', gamma],
    ['beta', beta],
  ] as const) {
    if (!(t instanceof tf.Tensor)) throw new DistillationError('bad-option', `groupNorm: ${what} must be a tf.Tensor`);
  }
  if (!Number.isInteger(groups) || groups < 1)
    throw new DistillationError('bad-option', `groupNorm: groups must be an integer >= 1, got ${groups}`);
  if (!(Number.isFinite(epsilon) && epsilon >= 0))
    throw new DistillationError('bad-option', `groupNorm: epsilon must be a finite number >= 0, got ${epsilon}`);
  const channels = x.shape[x.rank - 1];
  if (x.rank < 2 || channels === undefined || channels % groups !== 0) {
    throw new BitError(
      'group-norm-channels',
      `groupNorm: input [${x.shape}] has ${channels ?? 'no'} channels, not divisible into ${groups} groups`,
    );
  }
  return tf.tidy(() => {
    const shape = x.shape;
    const grouped = tf.reshape(x, [shape[0]!, -1, groups, channels / groups]);
    const { mean, variance } = tf.moments(grouped, [1, 3], true);
    const normalized = tf.div(tf.sub(grouped, mean), tf.sqrt(tf.add(variance, epsilon)));
    return tf.add(tf.mul(tf.reshape(normalized, shape), gamma), beta);
  });
}

// ---------------------------------------------------------------------------------------------

/**
 * Weight-standardisation variants:
 * - `'bit'` — BiT's `StdConv2d`: `(w - mean) / sqrt(var + 1e-10)`;
 * - `'timm'` — timm's BiT models: `(w - mean) / sqrt(var + 1e-8)`;
 * - `'ws'` — the Weight Standardization paper (Qiao et al. 2019): `(w - mean) / (std + 1e-5)`.
 * Mean and biased variance are taken per output channel over (kh, kw, in).
 */
export type WeightStandardization = 'bit' | 'timm' | 'ws';

const VARIANTS: Record<WeightStandardization, { epsilon: number; form: 'variance' | 'std' }> = {
  bit: { epsilon: 1e-10, form: 'variance' },
  timm: { epsilon: 1e-8, form: 'variance' },
  ws: { epsilon: 1e-5, form: 'std' },
};

/** Options of {@link StandardizedConv2D}. */
export interface StandardizedConv2DArgs {
  filters: number;
  kernelSize: number | [number, number];
  strides?: number | [number, number];
  /** `'valid'` (default) or `'same'`; for PyTorch-style symmetric padding put a ZeroPadding2D first. */
  padding?: 'valid' | 'same';
  /** Default false (BiT's convolutions have no bias). */
  useBias?: boolean;
  /** Default `'bit'`. */
  standardization?: WeightStandardization;
  /** Overrides the variant's epsilon. */
  epsilon?: number;
  kernelInitializer?: LayerInitializer | InitializerName;
  biasInitializer?: LayerInitializer | InitializerName;
  name?: string;
  inputShape?: Shape;
  /** Base-layer arguments, as in a saved layer config. */
  batchInputShape?: Shape;
  batchSize?: number;
  dtype?: tf.DataType;
  trainable?: boolean;
}

const sizeOrPair = z.union([integer(1), z.tuple([integer(1), integer(1)])]);

/** Schema of {@link StandardizedConv2DArgs} (defaults applied; `epsilon` defaults to the variant's). */
export const standardizedConv2DSchema = optionsSchema<StandardizedConv2DArgs>()({
  filters: integer(1),
  kernelSize: sizeOrPair,
  strides: sizeOrPair.default(1),
  padding: z.enum(['valid', 'same']).default('valid'),
  useBias: z.boolean().default(false),
  standardization: z.enum(['bit', 'timm', 'ws']).default('bit'),
  epsilon: nonNegative.optional(),
  kernelInitializer: initializerSchema.optional(),
  biasInitializer: initializerSchema.optional(),
  ...layerArgs,
});

function pair(v: number | readonly number[]): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0]!, v[1]!];
}

/**
 * A 2-D convolution (NHWC, HWIO kernel named `kernel`) whose kernel is standardised on every call:
 * per output channel, over (kh, kw, in), with the biased variance (see
 * {@link WeightStandardization}). The stored kernel stays unstandardised, as in BiT's checkpoints.
 */
export class StandardizedConv2D extends tfl.layers.Layer {
  static readonly className = 'kd>StandardizedConv2D';
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly padding: 'valid' | 'same';
  readonly useBias: boolean;
  readonly standardization: WeightStandardization;
  readonly epsilon: number;
  private readonly kernelInitializer: Initializer;
  private readonly biasInitializer: Initializer;
  private kernel?: tfl.LayerVariable;
  private bias?: tfl.LayerVariable;

  constructor(args: StandardizedConv2DArgs) {
    const parsed = parseOptions(standardizedConv2DSchema, args, 'StandardizedConv2D');
    super({ ...parsed, name: (parsed as { name?: string }).name ?? defaultName('standardized_conv2d') } as never);
    this.filters = parsed.filters;
    this.kernelSize = pair(parsed.kernelSize);
    this.strides = pair(parsed.strides);
    this.padding = parsed.padding;
    this.useBias = parsed.useBias;
    this.standardization = parsed.standardization;
    this.epsilon = parsed.epsilon ?? VARIANTS[this.standardization].epsilon;
    this.kernelInitializer = getInitializer(parsed.kernelInitializer, 'heNormal');
    this.biasInitializer = getInitializer(parsed.biasInitializer, 'zeros');
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = singleShape(inputShape);
    const channels = shape[shape.length - 1];
    if (shape.length !== 4 || channels == null) {
      throw new BitError(
        'bad-conv-input',
        `StandardizedConv2D "${this.name}": expected NHWC input with known channels, got [${shape.map(String)}]`,
      );
    }
    this.kernel = this.addWeight('kernel', [...this.kernelSize, channels, this.filters], 'float32', this.kernelInitializer);
    if (this.useBias) this.bias = this.addWeight('bias', [this.filters], 'float32', this.biasInitializer);
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs) as tf.Tensor4D;
      const w = standardizeWeight(this.kernel!.read(), this.standardization, this.epsilon) as tf.Tensor4D;
      const y = tf.conv2d(x, w, this.strides, this.padding);
      return this.bias ? tf.add(y, this.bias.read()) : y;
    });
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const shape = singleShape(inputShape);
    const out = (size: number | null, k: number, s: number): number | null => {
      if (size == null) return null;
      return this.padding === 'same' ? Math.ceil(size / s) : Math.floor((size - k) / s) + 1;
    };
    return [
      shape[0]!,
      out(shape[1]!, this.kernelSize[0], this.strides[0]),
      out(shape[2]!, this.kernelSize[1], this.strides[1]),
      this.filters,
    ];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      filters: this.filters,
      kernelSize: [...this.kernelSize],
      strides: [...this.strides],
      padding: this.padding,
      useBias: this.useBias,
      standardization: this.standardization,
      epsilon: this.epsilon,
      kernelInitializer: serializeInitializer(this.kernelInitializer) as tf.serialization.ConfigDictValue,
      biasInitializer: serializeInitializer(this.biasInitializer) as tf.serialization.ConfigDictValue,
    };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls({
      ...layerConfig(config),
      kernelInitializer: deserializeInitializer(config['kernelInitializer'], 'heNormal'),
      biasInitializer: deserializeInitializer(config['biasInitializer'], 'zeros'),
    });
  }
}

/**
 * Standardises an HWIO kernel per output channel (last axis) over the other three axes:
 * `(w - mean) / sqrt(var + eps)` (`'bit'`, `'timm'`) or `(w - mean) / (std + eps)` (`'ws'`),
 * with the biased variance. Throws `bad-kernel` unless `kernel` is a 4-D tensor.
 */
export function standardizeWeight(kernel: tf.Tensor, standardization: WeightStandardization = 'bit', epsilon?: number): tf.Tensor {
  if (!(kernel instanceof tf.Tensor) || kernel.rank !== 4) {
    const got = kernel instanceof tf.Tensor ? `shape [${kernel.shape}]` : String(kernel);
    throw new BitError('bad-kernel', `standardizeWeight: kernel must be a 4-D HWIO tensor, got ${got}`);
  }
  const variant = Object.hasOwn(VARIANTS, standardization) ? VARIANTS[standardization] : undefined;
  if (!variant) {
    throw new DistillationError(
      'bad-option',
      `standardizeWeight: standardization must be 'bit', 'timm' or 'ws', got ${String(standardization)}`,
    );
  }
  if (epsilon !== undefined && !(Number.isFinite(epsilon) && epsilon >= 0)) {
    throw new DistillationError('bad-option', `standardizeWeight: epsilon must be a finite number >= 0, got ${epsilon}`);
  }
  const eps = epsilon ?? variant.epsilon;
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(kernel, [0, 1, 2], true);
    const scale = variant.form === 'variance' ? tf.sqrt(tf.add(variance, eps)) : tf.add(tf.sqrt(variance), eps);
    return tf.div(tf.sub(kernel, mean), scale);
  });
}

// Saved as `kd>GroupNormalization` (Keras' `package>name` form, so no other library's
// `GroupNormalization` collides); models saved before, as `GroupNormalization` or
// `Custom>GroupNormalization`, still load.
for (const cls of [GroupNormalization, StandardizedConv2D]) {
  tf.serialization.registerClass(cls, 'kd', cls.className.slice('kd>'.length));
  const legacy = cls.className.slice('kd>'.length);
  for (const name of [legacy, `Custom>${legacy}`]) {
    tf.serialization.SerializationMap.register({
      className: name,
      fromConfig: (_: unknown, config: tf.serialization.ConfigDict) => cls.fromConfig(cls as never, config),
    } as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
  }
}
