import {
  type Checkpoint,
  DistillationError,
  type DistillationPlugin,
  definePlugin,
  type LayerShape,
  optionsSchema,
  parseOptions,
  type TrainableFilter,
  weightSchema,
} from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { FitnetError } from './errors';
import { batchNormTrain, filledVariable, uniformVariable, uniqueName, weightMismatch } from './layers';
import { nameSchema, tapSchema } from './options';
import { checkMap, checkPoolable, checkSameBatch, detach, l2Normalise, poolToSmaller } from './pooling';
import { tappedFeatures, tappedShapes } from './tappedPair';

/** How {@link factorTransferLoss} turns a factor map into a vector before normalising it. */
export type FactorForm = 'squared-mean' | 'flattened';

/** Options of {@link factorTransferLoss}. */
export interface FactorTransferLossOptions {
  /**
   * `squared-mean` (default, RepDistiller `FactorTransfer(p1 = 2)`): the mean over channels of
   * `f^2`, flattened to `[B, H*W]`; `flattened` (the paper's `vec(F)`): the whole map `[B, H*W*C]`.
   */
  readonly factor?: FactorForm;
}

const factorSchema = z.enum(['squared-mean', 'flattened']);

/** Schema of {@link FactorTransferLossOptions} (defaults applied). */
export const factorTransferLossSchema = optionsSchema<FactorTransferLossOptions>()({
  factor: factorSchema.default('squared-mean'),
});

/**
 * Factor-transfer loss (Kim et al., NeurIPS 2018; RepDistiller `FactorTransfer`, p2 = 1): when the
 * spatial sizes differ the larger factor is average-pooled to the smaller (integer factors),
 * each factor becomes a vector (see {@link FactorForm}) divided by its L2 norm (floored at
 * 1e-12), and the loss is the mean over `[B, D]` of `|u_s - u_t|` (L1). The teacher factor is a
 * constant. Throws `bad-option` / `unknown-option`, `rank-mismatch`, `batch-size-mismatch`,
 * `unsupported-size-relation`, and `feature-shape-mismatch` (channel counts differ with the
 * `flattened` form) before any work.
 */
export function factorTransferLoss(
  studentFactor: tf.Tensor4D,
  teacherFactor: tf.Tensor4D,
  options: FactorTransferLossOptions = {},
): tf.Scalar {
  const where = 'factorTransferLoss';
  const { factor } = parseOptions(factorTransferLossSchema, options, where);
  checkMap(studentFactor, 'studentFactor', where);
  checkMap(teacherFactor, 'teacherFactor', where);
  checkSameBatch(studentFactor, 'studentFactor', teacherFactor, 'teacherFactor', where);
  checkPoolable(studentFactor.shape, 'studentFactor', teacherFactor.shape, 'teacherFactor', where);
  if (factor === 'flattened' && studentFactor.shape[3] !== teacherFactor.shape[3]) {
    throw new FitnetError(
      'feature-shape-mismatch',
      `${where}: the flattened factors need the same channel count, got studentFactor [${studentFactor.shape}] and teacherFactor [${teacherFactor.shape}]`,
    );
  }
  return tf.tidy(() => {
    const [s, t] = poolToSmaller(studentFactor, detach(teacherFactor));
    const vector = (f: tf.Tensor4D) => {
      const [b, h, w, c] = f.shape;
      return l2Normalise(factor === 'squared-mean' ? tf.reshape(tf.mean(tf.square(f), 3), [b, h * w]) : tf.reshape(f, [b, h * w * c]), 1);
    };
    return tf.mean(tf.abs(tf.sub(vector(s), vector(t)))) as tf.Scalar;
  });
}

/** One conv 3x3 (stride 1, padding 1) layer, optional batch norm, then LeakyReLU(0.1). */
interface ConvLayer {
  readonly kernel: tf.Variable<tf.Rank.R4>;
  readonly bias: tf.Variable<tf.Rank.R1>;
  readonly gamma?: tf.Variable<tf.Rank.R1>;
  readonly beta?: tf.Variable<tf.Rank.R1>;
  readonly transposed: boolean;
}

function makeLayer(inputs: number, outputs: number, transposed: boolean, batchNorm: boolean, seed: number, name: string): ConvLayer {
  // Conv2d weight [out, in, 3, 3]: fan-in 9 * in; ConvTranspose2d weight [in, out, 3, 3]: PyTorch's fan-in 9 * out.
  const fanIn = 9 * (transposed ? outputs : inputs);
  const shape = transposed ? [3, 3, outputs, inputs] : [3, 3, inputs, outputs];
  return {
    kernel: uniformVariable(shape, fanIn, seed, `${name}/kernel`) as tf.Variable<tf.Rank.R4>,
    bias: uniformVariable([outputs], fanIn, seed + 1, `${name}/bias`) as tf.Variable<tf.Rank.R1>,
    ...(batchNorm
      ? {
          gamma: filledVariable([outputs], 1, `${name}/gamma`) as tf.Variable<tf.Rank.R1>,
          beta: filledVariable([outputs], 0, `${name}/beta`) as tf.Variable<tf.Rank.R1>,
        }
      : {}),
    transposed,
  };
}

function applyLayer(layer: ConvLayer, x: tf.Tensor4D, epsilon: number): tf.Tensor4D {
  const outputs = layer.bias.shape[0];
  let y = layer.transposed
    ? tf.conv2dTranspose(x, layer.kernel, [x.shape[0], x.shape[1], x.shape[2], outputs], 1, 'same')
    : tf.conv2d(x, layer.kernel, 1, 'same');
  y = tf.add(y, layer.bias);
  if (layer.gamma && layer.beta) y = batchNormTrain(y, layer.gamma, layer.beta, epsilon);
  return tf.leakyRelu(y, 0.1);
}

function layerWeights(layers: readonly ConvLayer[], prefix: string): Record<string, tf.Variable> {
  const out: Record<string, tf.Variable> = {};
  layers.forEach((l, i) => {
    out[`${prefix}${i + 1}.kernel`] = l.kernel;
    out[`${prefix}${i + 1}.bias`] = l.bias;
    if (l.gamma) out[`${prefix}${i + 1}.gamma`] = l.gamma;
    if (l.beta) out[`${prefix}${i + 1}.beta`] = l.beta;
  });
  return out;
}

const layerVariables = (layers: readonly ConvLayer[]): tf.Variable[] =>
  layers.flatMap((l) => [l.kernel, l.bias, ...(l.gamma ? [l.gamma] : []), ...(l.beta ? [l.beta] : [])]);

function channelsOf(shape: LayerShape, what: string, where: string): number {
  if (!Array.isArray(shape) || shape.length !== 4) {
    throw new FitnetError(
      'rank-mismatch',
      `${where}: the ${what} must be an NHWC map [batch, height, width, channels], got [${String(shape)}]`,
    );
  }
  const c = shape[3];
  if (typeof c !== 'number' || !Number.isInteger(c) || c <= 0) {
    throw new FitnetError('unknown-size', `${where}: the ${what}'s channel count must be known, got [${shape.map(String)}]`);
  }
  return c;
}

/** Options of {@link Paraphraser}. */
export interface ParaphraserOptions {
  /** Factor rate k: the factor has `floor(k * C)` channels for a teacher map of C channels. Default 0.5 (RepDistiller). */
  readonly rate?: number;
  /** Batch norm after every conv (RepDistiller `use_bn`, default false for the paraphraser). */
  readonly batchNorm?: boolean;
  /** Batch-norm epsilon. Default 1e-5. */
  readonly epsilon?: number;
  /** Name: the prefix of its variables and how checkpoints find its weights. Default `paraphraser`. */
  readonly name?: string;
}

const rateSchema = z
  .number({ message: 'must be a finite number in (0, 1]' })
  .positive({ message: 'must be > 0' })
  .max(1, { message: 'must be <= 1' });

/** Schema of {@link ParaphraserOptions} (defaults applied). */
export const paraphraserSchema = optionsSchema<ParaphraserOptions>()({
  rate: rateSchema.default(0.5),
  batchNorm: z.boolean({ message: 'must be a boolean' }).default(false),
  epsilon: z.number({ message: 'must be a finite number > 0' }).positive({ message: 'must be > 0' }).default(1e-5),
  name: nameSchema.default('paraphraser'),
});

/** What a checkpoint's plugin entry says about the paraphraser it holds. */
interface ParaphraserJson {
  readonly paraphraser: string;
  readonly inputChannels: number;
  readonly rate: number;
  readonly batchNorm: boolean;
}

/**
 * FT's paraphraser (Kim et al. 2018, RepDistiller `Paraphraser`): a convolutional autoencoder
 * on the teacher's map `[B, H, W, C]`. Encoder: conv 3x3 `C -> C`, `C -> k C`, `kC -> kC`;
 * decoder: transposed conv 3x3 `kC -> kC`, `kC -> C`, `C -> C`; all stride 1, padding 1, each
 * followed (optionally by batch norm, then) by LeakyReLU(0.1). The encoder's output is the
 * teacher factor.
 *
 * Create it once and pass the SAME object to {@link paraphraserTraining} (the init stage, which
 * builds it from the tapped teacher shape and trains it on the reconstruction loss) and to
 * {@link factorTransfer} (the transfer stage, which uses it frozen): its weights cross the stage
 * boundary. The stages' plugins never dispose it; call {@link Paraphraser.dispose} when done.
 * When resuming a run, call {@link Paraphraser.restore} with the loaded checkpoint first.
 */
export class Paraphraser {
  readonly rate: number;
  readonly batchNorm: boolean;
  readonly epsilon: number;
  readonly name: string;
  private encoder: ConvLayer[] = [];
  private decoder: ConvLayer[] = [];
  private channels?: number;

  constructor(options: ParaphraserOptions = {}) {
    const parsed = parseOptions(paraphraserSchema, options, 'Paraphraser');
    this.rate = parsed.rate;
    this.batchNorm = parsed.batchNorm;
    this.epsilon = parsed.epsilon;
    this.name = parsed.name;
  }

  /** Whether {@link build} (or {@link restore}) has created the weights. */
  get built(): boolean {
    return this.channels !== undefined;
  }

  /** Channels of the teacher map it encodes (after {@link build}). */
  get inputChannels(): number | undefined {
    return this.channels;
  }

  /** Channels of the factor: `floor(rate * inputChannels)` (after {@link build}). */
  get factorChannels(): number | undefined {
    return this.channels === undefined ? undefined : Math.floor(this.channels * this.rate);
  }

  /**
   * Creates the weights for a teacher map shape (NHWC, batch first), PyTorch-default initialised
   * from `seed`. Building again for the same channel count keeps the weights; another count is
   * `feature-shape-mismatch`.
   */
  build(teacherShape: LayerShape, seed = 0): void {
    const channels = channelsOf(teacherShape, 'teacher map', `Paraphraser "${this.name}"`);
    if (this.channels !== undefined) {
      if (this.channels !== channels) {
        throw new FitnetError(
          'feature-shape-mismatch',
          `Paraphraser "${this.name}": built for ${this.channels} teacher channels, got a map of shape [${teacherShape.map(String)}]`,
        );
      }
      return;
    }
    const k = Math.floor(channels * this.rate);
    if (k < 1) {
      throw new DistillationError(
        'bad-option',
        `Paraphraser "${this.name}": rate ${this.rate} of ${channels} channels leaves no factor channel (floor(rate * C) must be >= 1)`,
      );
    }
    const name = uniqueName(this.name);
    const sizes = [channels, channels, k, k, k, channels, channels];
    this.encoder = [0, 1, 2].map((i) =>
      makeLayer(sizes[i]!, sizes[i + 1]!, false, this.batchNorm, seed + 2 * i, `${name}/encoder${i + 1}`),
    );
    this.decoder = [3, 4, 5].map((i) => makeLayer(sizes[i]!, sizes[i + 1]!, true, this.batchNorm, seed + 2 * i, `${name}/decoder${i - 2}`));
    this.channels = channels;
  }

  private check(x: tf.Tensor4D, where: string): void {
    if (this.channels === undefined) {
      throw new FitnetError(
        'untrained-paraphraser',
        `Paraphraser "${this.name}".${where}: not built yet (train it in a paraphraserTraining stage, or restore it)`,
      );
    }
    checkMap(x, 'teacher map', `Paraphraser "${this.name}".${where}`);
    if (x.shape[3] !== this.channels) {
      throw new FitnetError(
        'feature-shape-mismatch',
        `Paraphraser "${this.name}".${where}: expected ${this.channels} channels, got [${x.shape}]`,
      );
    }
  }

  /** The teacher factor `[B, H, W, floor(rate C)]` of a teacher map. */
  encode(x: tf.Tensor4D): tf.Tensor4D {
    this.check(x, 'encode');
    return tf.tidy(() => this.encoder.reduce((h, l) => applyLayer(l, h, this.epsilon), x));
  }

  /** The reconstruction `decoder(encoder(x))`, of the shape of `x`. */
  reconstruct(x: tf.Tensor4D): tf.Tensor4D {
    this.check(x, 'reconstruct');
    return tf.tidy(() => this.decoder.reduce((h, l) => applyLayer(l, h, this.epsilon), this.encode(x)));
  }

  /** The trainable variables (empty before {@link build}). */
  get variables(): tf.Variable[] {
    return [...layerVariables(this.encoder), ...layerVariables(this.decoder)];
  }

  /** A `trainable` filter for the init stage that accepts only this paraphraser's variables (asked at every step). */
  trainableFilter(): TrainableFilter {
    return (variable) => this.variables.includes(variable);
  }

  /** The weights by name (`encoder1.kernel`, ..., `decoder3.bias`); live variables, do not dispose. */
  weights(): Record<string, tf.Variable> {
    return { ...layerWeights(this.encoder, 'encoder'), ...layerWeights(this.decoder, 'decoder') };
  }

  /** Replaces weights by name; `checkpoint-mismatch` on an unknown name or shape (nothing is changed then). */
  setWeights(weights: Readonly<Record<string, tf.Tensor>>): void {
    const own = this.weights();
    const problem = weightMismatch(own, weights, `Paraphraser "${this.name}"`);
    if (problem) throw new DistillationError('checkpoint-mismatch', problem);
    tf.tidy(() => {
      for (const [key, value] of Object.entries(weights)) own[key]!.assign(tf.cast(value, 'float32'));
    });
  }

  /** What the stages' plugins save: the weights under `paraphraser/<name>` and a JSON description. */
  checkpointPart(): { tensors: Record<string, tf.Tensor>; json: ParaphraserJson } {
    const tensors: Record<string, tf.Tensor> = {};
    for (const [key, v] of Object.entries(this.weights())) tensors[`paraphraser/${key}`] = v;
    return { tensors, json: { paraphraser: this.name, inputChannels: this.channels!, rate: this.rate, batchNorm: this.batchNorm } };
  }

  /** Loads the `paraphraser/*` tensors of a plugin checkpoint (building first if needed). */
  loadCheckpointPart(tensors: Readonly<Record<string, tf.Tensor>>, json: unknown): void {
    const description = json as Partial<ParaphraserJson> | undefined;
    if (description?.paraphraser !== this.name || typeof description.inputChannels !== 'number') {
      throw new DistillationError(
        'checkpoint-mismatch',
        `Paraphraser "${this.name}": the checkpoint holds no weights of a paraphraser named "${this.name}"`,
      );
    }
    if (description.rate !== this.rate || description.batchNorm !== this.batchNorm) {
      throw new DistillationError(
        'checkpoint-mismatch',
        `Paraphraser "${this.name}": the checkpoint's paraphraser has rate ${description.rate} and batchNorm ${description.batchNorm}, this one ${this.rate} and ${this.batchNorm}`,
      );
    }
    if (!this.built) this.build([null, 1, 1, description.inputChannels]);
    const mine: Record<string, tf.Tensor> = {};
    for (const [key, t] of Object.entries(tensors)) if (key.startsWith('paraphraser/')) mine[key.slice('paraphraser/'.length)] = t;
    const missing = Object.keys(this.weights()).filter((k) => !(k in mine));
    if (missing.length > 0) {
      throw new DistillationError('checkpoint-mismatch', `Paraphraser "${this.name}": the checkpoint lacks ${missing.join(', ')}`);
    }
    this.setWeights(mine);
  }

  /**
   * Restores the trained weights from a run's checkpoint (call it before resuming `fitStages`,
   * in a fresh process): finds the plugin entry (of either stage) that saved this paraphraser,
   * by name. Returns false, changing nothing, when the checkpoint holds none (the init stage
   * had not finished an epoch).
   */
  restore(checkpoint: Checkpoint | undefined): boolean {
    if (!checkpoint) return false;
    for (const entry of Object.values(checkpoint.plugins)) {
      if ((entry.json as Partial<ParaphraserJson> | undefined)?.paraphraser !== this.name) continue;
      const tensors = Object.fromEntries(
        entry.tensors.filter((r) => r.name.startsWith('paraphraser/')).map((r) => [r.name, tf.tensor(r.values, [...r.shape], r.dtype)]),
      );
      try {
        this.loadCheckpointPart(tensors, entry.json);
      } finally {
        tf.dispose(Object.values(tensors));
      }
      return true;
    }
    return false;
  }

  /** Frees the variables (it can be built again afterwards). */
  dispose(): void {
    for (const v of this.variables) v.dispose();
    this.encoder = [];
    this.decoder = [];
    this.channels = undefined;
  }
}

/** Options of {@link Translator}. */
export interface TranslatorOptions {
  /** Batch norm after every conv (RepDistiller `use_bn`, default true for the translator). */
  readonly batchNorm?: boolean;
  /** Batch-norm epsilon. Default 1e-5. */
  readonly epsilon?: number;
  /** Seed of the initialisation. Default 0. */
  readonly seed?: number;
  /** Prefix of the variable names. Default `translator`. */
  readonly name?: string;
}

/** Schema of {@link TranslatorOptions} (defaults applied). */
export const translatorSchema = optionsSchema<TranslatorOptions>()({
  batchNorm: z.boolean({ message: 'must be a boolean' }).default(true),
  epsilon: z.number({ message: 'must be a finite number > 0' }).positive({ message: 'must be > 0' }).default(1e-5),
  seed: z.number({ message: 'must be a finite number' }).default(0),
  name: nameSchema.default('translator'),
});

/**
 * FT's translator (RepDistiller `Translator`): conv 3x3 `Cs -> Cs`, `Cs -> K`, `K -> K` (stride
 * 1, padding 1), each followed by batch norm (batch statistics) and LeakyReLU(0.1); it maps the
 * student's map to a student factor of the paraphraser's `K = floor(rate C_teacher)` channels.
 */
export class Translator {
  readonly inputChannels: number;
  readonly factorChannels: number;
  readonly epsilon: number;
  private readonly layers: ConvLayer[];

  constructor(studentShape: LayerShape, factorChannels: number, options: TranslatorOptions = {}) {
    const parsed = parseOptions(translatorSchema, options, 'Translator');
    this.inputChannels = channelsOf(studentShape, 'student map', 'Translator');
    if (!Number.isInteger(factorChannels) || factorChannels < 1) {
      throw new DistillationError('bad-option', `Translator: factorChannels must be a positive integer, got ${String(factorChannels)}`);
    }
    this.factorChannels = factorChannels;
    this.epsilon = parsed.epsilon;
    const name = uniqueName(parsed.name);
    const sizes = [this.inputChannels, this.inputChannels, factorChannels, factorChannels];
    this.layers = [0, 1, 2].map((i) =>
      makeLayer(sizes[i]!, sizes[i + 1]!, false, parsed.batchNorm, parsed.seed + 2 * i, `${name}/layer${i + 1}`),
    );
  }

  /** The student factor `[B, H, W, factorChannels]`. */
  apply(x: tf.Tensor4D): tf.Tensor4D {
    checkMap(x, 'student map', 'Translator.apply');
    if (x.shape[3] !== this.inputChannels) {
      throw new FitnetError(
        'feature-shape-mismatch',
        `Translator.apply: expected ${this.inputChannels} student channels, got [${x.shape}]`,
      );
    }
    return tf.tidy(() => this.layers.reduce((h, l) => applyLayer(l, h, this.epsilon), x));
  }

  /** The trainable variables. */
  get variables(): tf.Variable[] {
    return layerVariables(this.layers);
  }

  /** The weights by name (`layer1.kernel`, ..., `layer3.beta`); live variables. */
  weights(): Record<string, tf.Variable> {
    return layerWeights(this.layers, 'layer');
  }

  /** Replaces weights by name; `checkpoint-mismatch` on an unknown name or shape. */
  setWeights(weights: Readonly<Record<string, tf.Tensor>>): void {
    const own = this.weights();
    const problem = weightMismatch(own, weights, 'Translator');
    if (problem) throw new DistillationError('checkpoint-mismatch', problem);
    tf.tidy(() => {
      for (const [key, value] of Object.entries(weights)) own[key]!.assign(tf.cast(value, 'float32'));
    });
  }

  /** Frees the variables. */
  dispose(): void {
    for (const v of this.variables) v.dispose();
  }
}

const paraphraserInstance = z.custom<Paraphraser>((v) => v instanceof Paraphraser, {
  message: 'must be a Paraphraser (new Paraphraser())',
});

/** Options of {@link paraphraserTraining}. */
export interface ParaphraserTrainingOptions {
  /** Teacher layer to tap: the map to paraphrase (RepDistiller: the last feature map). */
  readonly teacher: string;
  /** The paraphraser to build and train (the same object goes to {@link factorTransfer}). */
  readonly paraphraser: Paraphraser;
  /** Weight of the reconstruction term. Default 1. */
  readonly weight?: number;
  /** Plugin and loss-term name. Default `paraphraser`. */
  readonly name?: string;
}

/** Schema of {@link ParaphraserTrainingOptions} (defaults applied). */
export const paraphraserTrainingSchema = optionsSchema<ParaphraserTrainingOptions>()({
  teacher: tapSchema('a tapped teacher map'),
  paraphraser: paraphraserInstance,
  weight: weightSchema.default(1),
  name: nameSchema.default('paraphraser'),
});

/**
 * FT's init stage (RepDistiller `init` with `distill == 'factor'`): builds the paraphraser from
 * the tapped teacher map and trains it on the reconstruction loss, the MSE (mean over every
 * element) between `paraphraser.reconstruct(t)` and `t`. Only the paraphraser learns from it:
 * pass `trainable: paraphraser.trainableFilter()` to the stage so the student is left as it is
 * (RepDistiller trains only the paraphraser here). Its state (checkpoints) is the paraphraser's
 * weights; `dispose` leaves the paraphraser alive for the next stage.
 */
export function paraphraserTraining(options: ParaphraserTrainingOptions): DistillationPlugin<Paraphraser> {
  const { teacher, paraphraser, weight, name } = parseOptions(paraphraserTrainingSchema, options, 'paraphraserTraining');
  return definePlugin<Paraphraser>({
    name,
    label: name,
    weight,
    needsTeacher: true,
    taps: { teacher: [teacher] },
    setup(context) {
      const shape = context.teacherShapes[teacher];
      if (!shape) throw new FitnetError('missing-feature', `Plugin "${name}": no tapped shape for teacher layer "${teacher}"`);
      checkPoolable(shape, `teacher "${teacher}"`, shape, `teacher "${teacher}"`, `Plugin "${name}"`);
      const seed = context.random.seed();
      try {
        paraphraser.build(shape, seed);
      } catch (error) {
        if (error instanceof DistillationError) error.message = `Plugin "${name}" (teacher "${teacher}"): ${error.message}`;
        throw error;
      }
      return paraphraser;
    },
    variables: (state) => state.variables,
    loss(outputs, context) {
      const t = outputs.teacher?.features[teacher];
      if (!t) throw new FitnetError('missing-feature', `Plugin "${name}": the step has no tapped teacher layer "${teacher}"`);
      return tf.tidy(() => tf.mean(tf.squaredDifference(context.state.reconstruct(t as tf.Tensor4D), t)) as tf.Scalar);
    },
    state: (state) => state.checkpointPart(),
    loadState(state, checkpoint) {
      state.loadCheckpointPart(checkpoint.tensors, checkpoint.json);
    },
  });
}

/** Options of {@link factorTransfer}. */
export interface FactorTransferOptions {
  /** Student layer to tap: the map the translator reads. */
  readonly student: string;
  /** Teacher layer to tap: the map the paraphraser was trained on. */
  readonly teacher: string;
  /** The paraphraser trained by a {@link paraphraserTraining} stage (or restored). */
  readonly paraphraser: Paraphraser;
  /** Weight of the term (RepDistiller's CIFAR-100 default `-b 200`). Default 200. */
  readonly weight?: number;
  /** Factor vector form. Default `squared-mean` (RepDistiller). */
  readonly factor?: FactorForm;
  /** Batch norm in the translator. Default true (RepDistiller). */
  readonly batchNorm?: boolean;
  /** Plugin and loss-term name. Default `ft`. */
  readonly name?: string;
}

/** Schema of {@link FactorTransferOptions} (defaults applied). */
export const factorTransferSchema = optionsSchema<FactorTransferOptions>()({
  student: tapSchema('a tapped student map'),
  teacher: tapSchema('a tapped teacher map'),
  paraphraser: paraphraserInstance,
  weight: weightSchema.default(200),
  factor: factorSchema.default('squared-mean'),
  batchNorm: z.boolean({ message: 'must be a boolean' }).default(true),
  name: nameSchema.default('ft'),
});

/** State of a factor-transfer plugin: its translator and the shared paraphraser. */
export interface FactorTransferState {
  readonly translator: Translator;
  readonly paraphraser: Paraphraser;
}

/**
 * Factor transfer (Kim et al., NeurIPS 2018) as the transfer-stage plugin: a {@link Translator}
 * (trained with the student) maps the student's map to a factor, the trained paraphraser
 * (frozen: its variables are not returned, and its factor is a constant) encodes the teacher's,
 * and the term is {@link factorTransferLoss}. RepDistiller: `ce + 200 * ft` after the
 * paraphraser's init stage. Checkpoints hold the translator and the paraphraser, so a resumed
 * stage (after {@link Paraphraser.restore}) continues bit-exactly. Refuses, in `setup`, a
 * paraphraser that was never built (`untrained-paraphraser`) or built for other channels.
 */
export function factorTransfer(options: FactorTransferOptions): DistillationPlugin<FactorTransferState> {
  const { student, teacher, paraphraser, weight, factor, batchNorm, name } = parseOptions(factorTransferSchema, options, 'factorTransfer');
  return definePlugin<FactorTransferState>({
    name,
    label: name,
    weight,
    needsTeacher: true,
    taps: { student: [student], teacher: [teacher] },
    setup(context) {
      const [s, t] = tappedShapes(context, name, student, teacher);
      const where = `Plugin "${name}" (student "${student}" -> teacher "${teacher}")`;
      checkPoolable(s, 'student', t, 'teacher', where);
      if (!paraphraser.built) {
        throw new FitnetError(
          'untrained-paraphraser',
          `${where}: paraphraser "${paraphraser.name}" was never trained; run a paraphraserTraining stage first (or paraphraser.restore(checkpoint) when resuming)`,
        );
      }
      const teacherChannels = t[3];
      if (teacherChannels !== paraphraser.inputChannels) {
        throw new FitnetError(
          'feature-shape-mismatch',
          `${where}: paraphraser "${paraphraser.name}" encodes ${paraphraser.inputChannels} channels, the teacher map has shape [${t.map(String)}]`,
        );
      }
      return { translator: new Translator(s, paraphraser.factorChannels!, { batchNorm, seed: context.random.seed(), name }), paraphraser };
    },
    variables: (state) => state.translator.variables,
    loss(outputs, context) {
      const [s, t] = tappedFeatures(outputs, name, student, teacher);
      const { translator } = context.state;
      return tf.tidy(() =>
        factorTransferLoss(translator.apply(s as tf.Tensor4D), detach(paraphraser.encode(t as tf.Tensor4D)), { factor }),
      );
    },
    state(state) {
      const part = state.paraphraser.checkpointPart();
      const tensors: Record<string, tf.Tensor> = { ...part.tensors };
      for (const [key, v] of Object.entries(state.translator.weights())) tensors[`translator/${key}`] = v;
      return { tensors, json: part.json };
    },
    loadState(state, checkpoint) {
      const mine: Record<string, tf.Tensor> = {};
      for (const [key, t] of Object.entries(checkpoint.tensors))
        if (key.startsWith('translator/')) mine[key.slice('translator/'.length)] = t;
      // Both parts are checked before either changes: a refused checkpoint leaves the state as it was.
      const problem = weightMismatch(state.translator.weights(), mine, 'Translator');
      if (problem) throw new DistillationError('checkpoint-mismatch', problem);
      state.paraphraser.loadCheckpointPart(checkpoint.tensors, checkpoint.json);
      state.translator.setWeights(mine);
    },
    dispose(state) {
      state.translator.dispose();
    },
  });
}
