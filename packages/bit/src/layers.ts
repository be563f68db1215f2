import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

type Kwargs = Record<string, unknown>;
/** A tfjs-layers initializer instance (the class is not exported as a value). */
type Initializer = ReturnType<typeof tfl.initializers.zeros>;
type Shape = (number | null)[];
type InitializerName = Parameters<typeof tfl.layers.dense>[0]['kernelInitializer'];

function single<T>(x: T | T[]): T {
  return Array.isArray(x) ? x[0]! : x;
}

function singleShape(shape: tfl.Shape | tfl.Shape[]): Shape {
  return (Array.isArray(shape[0]) ? shape[0] : shape) as Shape;
}

function getInitializer(init: InitializerName | undefined, fallback: string): Initializer {
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
      throw new Error(`Unsupported initializer ${String(name)} (pass an Initializer instance)`);
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
  const make = factories[className];
  if (!make) throw new Error(`Cannot deserialise initializer ${className}`);
  return make(config ?? {});
}

// ---------------------------------------------------------------------------------------------

/** Options of {@link GroupNormalization}. */
export interface GroupNormalizationArgs {
  /** Number of channel groups; the channel count must be divisible by it. Default 32. */
  groups?: number;
  /** Added to the group variance. Default 1e-5 (PyTorch `nn.GroupNorm`). */
  epsilon?: number;
  gammaInitializer?: Initializer | InitializerName;
  betaInitializer?: Initializer | InitializerName;
  name?: string;
  inputShape?: Shape;
  trainable?: boolean;
}

/**
 * Group Normalisation (Wu & He 2018) of NHWC (or `[N, ..., C]`) tensors: the channels are split
 * into `groups` groups; each example's group is normalised over its spatial positions and the
 * group's channels (biased variance, `epsilon` inside the square root), then scaled and shifted
 * per CHANNEL by `gamma` (init 1) and `beta` (init 0). Matches PyTorch `F.group_norm` on NCHW.
 * Weight names: `gamma`, `beta` (BiT's `group_norm/{gamma,beta}`).
 */
export class GroupNormalization extends tfl.layers.Layer {
  static readonly className = 'GroupNormalization';
  readonly groups: number;
  readonly epsilon: number;
  private readonly gammaInitializer: Initializer;
  private readonly betaInitializer: Initializer;
  private gamma?: tfl.LayerVariable;
  private beta?: tfl.LayerVariable;

  constructor(args: GroupNormalizationArgs = {}) {
    super(args as never);
    this.groups = args.groups ?? 32;
    this.epsilon = args.epsilon ?? 1e-5;
    if (!Number.isInteger(this.groups) || this.groups < 1) {
      throw new Error(`GroupNormalization: groups must be a positive integer, got ${this.groups}`);
    }
    if (!(this.epsilon >= 0)) throw new Error(`GroupNormalization: epsilon must be >= 0, got ${this.epsilon}`);
    this.gammaInitializer = getInitializer(args.gammaInitializer, 'ones');
    this.betaInitializer = getInitializer(args.betaInitializer, 'zeros');
    this.supportsMasking = true;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = singleShape(inputShape);
    const channels = shape[shape.length - 1];
    if (channels == null) throw new Error(`GroupNormalization "${this.name}": the channel dimension must be known`);
    if (channels % this.groups !== 0) {
      throw new Error(`GroupNormalization "${this.name}": ${channels} channels are not divisible into ${this.groups} groups`);
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
      ...config,
      gammaInitializer: deserializeInitializer(config['gammaInitializer'], 'ones'),
      betaInitializer: deserializeInitializer(config['betaInitializer'], 'zeros'),
    });
  }
}

/**
 * The group-norm computation on a `[N, ..., C]` tensor (functional form of
 * {@link GroupNormalization}).
 */
export function groupNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, groups: number, epsilon: number): tf.Tensor {
  return tf.tidy(() => {
    const shape = x.shape;
    const channels = shape[shape.length - 1]!;
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
  kernelInitializer?: Initializer | InitializerName;
  biasInitializer?: Initializer | InitializerName;
  name?: string;
  inputShape?: Shape;
  trainable?: boolean;
}

function pair(v: number | [number, number] | number[], what: string): [number, number] {
  const p = (typeof v === 'number' ? [v, v] : v) as number[];
  if (p.length !== 2 || p.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new Error(`StandardizedConv2D: ${what} must be a positive integer or a pair, got ${JSON.stringify(v)}`);
  }
  return [p[0]!, p[1]!];
}

/**
 * A 2-D convolution (NHWC, HWIO kernel named `kernel`) whose kernel is standardised on every call:
 * per output channel, over (kh, kw, in), with the biased variance (see
 * {@link WeightStandardization}). The stored kernel stays unstandardised, as in BiT's checkpoints.
 */
export class StandardizedConv2D extends tfl.layers.Layer {
  static readonly className = 'StandardizedConv2D';
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
    super(args as never);
    if (!Number.isInteger(args.filters) || args.filters < 1) {
      throw new Error(`StandardizedConv2D: filters must be a positive integer, got ${args.filters}`);
    }
    this.filters = args.filters;
    this.kernelSize = pair(args.kernelSize, 'kernelSize');
    this.strides = pair(args.strides ?? 1, 'strides');
    this.padding = args.padding ?? 'valid';
    if (this.padding !== 'valid' && this.padding !== 'same') {
      throw new Error(`StandardizedConv2D: padding must be 'valid' or 'same', got ${String(this.padding)}`);
    }
    this.useBias = args.useBias ?? false;
    this.standardization = args.standardization ?? 'bit';
    if (!VARIANTS[this.standardization]) {
      throw new Error(`StandardizedConv2D: standardization must be 'bit', 'timm' or 'ws', got ${String(this.standardization)}`);
    }
    this.epsilon = args.epsilon ?? VARIANTS[this.standardization].epsilon;
    if (!(this.epsilon >= 0)) throw new Error(`StandardizedConv2D: epsilon must be >= 0, got ${this.epsilon}`);
    this.kernelInitializer = getInitializer(args.kernelInitializer, 'heNormal');
    this.biasInitializer = getInitializer(args.biasInitializer, 'zeros');
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = singleShape(inputShape);
    const channels = shape[shape.length - 1];
    if (shape.length !== 4 || channels == null) {
      throw new Error(`StandardizedConv2D "${this.name}": expected NHWC input with known channels, got [${shape.map(String)}]`);
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
    return [shape[0]!, out(shape[1]!, this.kernelSize[0], this.strides[0]), out(shape[2]!, this.kernelSize[1], this.strides[1]), this.filters];
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
      ...config,
      kernelInitializer: deserializeInitializer(config['kernelInitializer'], 'heNormal'),
      biasInitializer: deserializeInitializer(config['biasInitializer'], 'zeros'),
    });
  }
}

/**
 * Standardises an HWIO kernel per output channel (last axis) over the other three axes:
 * `(w - mean) / sqrt(var + eps)` (`'bit'`, `'timm'`) or `(w - mean) / (std + eps)` (`'ws'`),
 * with the biased variance.
 */
export function standardizeWeight(kernel: tf.Tensor, standardization: WeightStandardization = 'bit', epsilon?: number): tf.Tensor {
  const variant = VARIANTS[standardization];
  const eps = epsilon ?? variant.epsilon;
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(kernel, [0, 1, 2], true);
    const scale = variant.form === 'variance' ? tf.sqrt(tf.add(variance, eps)) : tf.add(tf.sqrt(variance), eps);
    return tf.div(tf.sub(kernel, mean), scale);
  });
}

tf.serialization.registerClass(GroupNormalization);
tf.serialization.registerClass(StandardizedConv2D);
