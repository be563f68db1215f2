import {
  DistillationError,
  type DistillationPlugin,
  definePlugin,
  isDistillationError,
  type LayerShape,
  optionsSchema,
  parseOptions,
  weightSchema,
} from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { FitnetError } from './errors';
import { filledVariable, uniformVariable, uniqueName, weightMismatch } from './layers';
import { nameSchema, tapSchema } from './options';
import { checkMap, checkPoolable, checkSameBatch, poolToSmaller } from './pooling';
import { tappedFeatures, tappedShapes } from './tappedPair';

/** Options of {@link VariationalRegressor}. */
export interface VariationalRegressorOptions {
  /** Width of the two hidden 1x1 convs. Default: the teacher's channel count (RepDistiller `VIDLoss(s, t, t)`). */
  readonly hiddenChannels?: number;
  /** Initial predicted variance of every channel (RepDistiller `init_pred_var`). Default 5. */
  readonly initVariance?: number;
  /** Variance floor added to `softplus(alpha)`. Default 1e-5 (RepDistiller `eps`). */
  readonly epsilon?: number;
  /** Seed of the kernel initialisation. Default 0. */
  readonly seed?: number;
  /** Prefix of the tfjs variable names (made unique per process). Default `vid_regressor`. */
  readonly name?: string;
}

const positive = (what: string) => z.number({ message: `must be ${what}` }).positive({ message: 'must be > 0' });

/** Schema of {@link VariationalRegressorOptions} (defaults applied, except `hiddenChannels`). */
export const variationalRegressorSchema = optionsSchema<VariationalRegressorOptions>()({
  hiddenChannels: z.number({ message: 'must be a positive integer' }).int({ message: 'must be an integer' }).positive().optional(),
  initVariance: positive('a finite number > 0').default(5),
  epsilon: positive('a finite number > 0').default(1e-5),
  seed: z.number({ message: 'must be a finite number' }).default(0),
  name: nameSchema.default('vid_regressor'),
});

/**
 * The `alpha` that makes `log(1 + exp(alpha)) + epsilon` equal `initVariance` (RepDistiller:
 * `log(exp(init_pred_var - eps) - 1)`).
 */
export function initialLogScale(initVariance: number, epsilon: number): number {
  return Math.log(Math.expm1(initVariance - epsilon));
}

/**
 * VID's mean regressor and learned variance (Ahn et al. 2019, RepDistiller `VIDLoss`): the
 * predicted mean of the teacher map is `conv1x1 -> ReLU -> conv1x1 -> ReLU -> conv1x1` of the
 * student map (no biases), and every teacher channel has a variance `softplus(alpha) + epsilon`
 * with `alpha` trainable, initialised so the variance starts at `initVariance`.
 * Kernels are `[1, 1, in, out]`, initialised uniform in `±1/sqrt(in)` (PyTorch's default).
 */
export class VariationalRegressor {
  readonly inputChannels: number;
  readonly hiddenChannels: number;
  readonly outputChannels: number;
  readonly epsilon: number;
  readonly kernels: readonly [tf.Variable<tf.Rank.R4>, tf.Variable<tf.Rank.R4>, tf.Variable<tf.Rank.R4>];
  /** `alpha` `[outputChannels]`: the variance is `softplus(alpha) + epsilon`. */
  readonly logScale: tf.Variable<tf.Rank.R1>;

  /** Sizes the regressor from the student and teacher map shapes (NHWC, batch first, channels known). */
  constructor(studentShape: LayerShape, teacherShape: LayerShape, options: VariationalRegressorOptions = {}) {
    const parsed = parseOptions(variationalRegressorSchema, options, 'VariationalRegressor');
    if (parsed.initVariance <= parsed.epsilon) {
      // softplus(alpha) + epsilon cannot equal a variance <= epsilon: alpha would start as NaN.
      throw new DistillationError(
        'bad-option',
        `VariationalRegressor: option "initVariance" must be > epsilon (${parsed.epsilon}), got ${parsed.initVariance}`,
      );
    }
    const channels = (shape: LayerShape, what: string): number => {
      if (!Array.isArray(shape) || shape.length !== 4) {
        throw new FitnetError('rank-mismatch', `VariationalRegressor: the ${what} must be an NHWC map shape, got [${String(shape)}]`);
      }
      const c = shape[3];
      if (typeof c !== 'number' || !Number.isInteger(c) || c <= 0) {
        throw new FitnetError(
          'unknown-size',
          `VariationalRegressor: the ${what}'s channel count must be known, got [${shape.map(String)}]`,
        );
      }
      return c;
    };
    this.inputChannels = channels(studentShape, 'student map');
    this.outputChannels = channels(teacherShape, 'teacher map');
    this.hiddenChannels = parsed.hiddenChannels ?? this.outputChannels;
    this.epsilon = parsed.epsilon;
    const name = uniqueName(parsed.name);
    const sizes = [this.inputChannels, this.hiddenChannels, this.hiddenChannels, this.outputChannels];
    this.kernels = [0, 1, 2].map((i) =>
      uniformVariable([1, 1, sizes[i]!, sizes[i + 1]!], sizes[i]!, parsed.seed + i, `${name}/kernel${i + 1}`),
    ) as unknown as VariationalRegressor['kernels'];
    this.logScale = filledVariable(
      [this.outputChannels],
      initialLogScale(parsed.initVariance, parsed.epsilon),
      `${name}/alpha`,
    ) as tf.Variable<tf.Rank.R1>;
  }

  /** The trainable variables: the three kernels and `alpha`. */
  get variables(): tf.Variable[] {
    return [...this.kernels, this.logScale];
  }

  /** The predicted mean `[B, H, W, outputChannels]` of a student map `[B, H, W, inputChannels]`. */
  apply(x: tf.Tensor4D): tf.Tensor4D {
    checkMap(x, 'student map', 'VariationalRegressor.apply');
    if (x.shape[3] !== this.inputChannels) {
      throw new FitnetError(
        'feature-shape-mismatch',
        `VariationalRegressor.apply: expected ${this.inputChannels} student channels, got [${x.shape}]`,
      );
    }
    return tf.tidy(() => {
      const [k1, k2, k3] = this.kernels;
      const h1 = tf.relu(tf.conv2d(x, k1, 1, 'valid'));
      const h2 = tf.relu(tf.conv2d(h1, k2, 1, 'valid'));
      return tf.conv2d(h2, k3, 1, 'valid');
    });
  }

  /** The weights by name (`kernel1..3`, `alpha`); live variables, do not dispose. */
  weights(): Record<string, tf.Variable> {
    return { kernel1: this.kernels[0], kernel2: this.kernels[1], kernel3: this.kernels[2], alpha: this.logScale };
  }

  /** Replaces weights by name (from a checkpoint or PyTorch); `checkpoint-mismatch` on an unknown name or shape. */
  setWeights(weights: Readonly<Record<string, tf.Tensor>>): void {
    const own = this.weights();
    const problem = weightMismatch(own, weights, 'VariationalRegressor');
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

/**
 * VID's loss (RepDistiller `VIDLoss.forward` after the regressor): with the per-channel variance
 * `var = log(1 + exp(alpha)) + epsilon`, the mean over batch, positions and channels of
 * `0.5 * (log var + (teacher - predictedMean)^2 / var)` (the Gaussian negative log-likelihood
 * without its constant). `predictedMean` and `teacher` are `[B, H, W, C]` of one shape, `alpha`
 * is `[C]`. Throws `bad-option`, `rank-mismatch`, `batch-size-mismatch` or
 * `feature-shape-mismatch` before any work.
 */
export function variationalInformationLoss(
  predictedMean: tf.Tensor4D,
  logScale: tf.Tensor1D,
  teacher: tf.Tensor4D,
  epsilon = 1e-5,
): tf.Scalar {
  const where = 'variationalInformationLoss';
  checkMap(predictedMean, 'predictedMean', where);
  checkMap(teacher, 'teacher', where);
  if (!(logScale instanceof tf.Tensor))
    throw new DistillationError('bad-option', `${where}: logScale must be a tensor, got ${String(logScale)}`);
  if (!(typeof epsilon === 'number' && Number.isFinite(epsilon) && epsilon > 0)) {
    throw new DistillationError('bad-option', `${where}: epsilon must be a finite number > 0, got ${String(epsilon)}`);
  }
  checkSameBatch(predictedMean, 'predictedMean', teacher, 'teacher', where);
  if (predictedMean.shape.some((d, i) => d !== teacher.shape[i])) {
    throw new FitnetError(
      'feature-shape-mismatch',
      `${where}: predictedMean [${predictedMean.shape}] and teacher [${teacher.shape}] differ in shape`,
    );
  }
  if (logScale.rank !== 1 || logScale.shape[0] !== teacher.shape[3]) {
    throw new FitnetError(
      'feature-shape-mismatch',
      `${where}: logScale must be [${teacher.shape[3]}] (one per teacher channel), got [${logScale.shape}]`,
    );
  }
  return tf.tidy(() => {
    const variance = tf.add(tf.softplus(logScale), epsilon);
    const nll = tf.add(tf.log(variance), tf.div(tf.squaredDifference(teacher, predictedMean), variance));
    return tf.mul(0.5, tf.mean(nll)) as tf.Scalar;
  });
}

/** Options of {@link variationalInformation}. */
export interface VariationalInformationOptions {
  /** Student layer to tap (an NHWC map). */
  readonly student: string;
  /** Teacher layer to tap (an NHWC map). */
  readonly teacher: string;
  /** Weight of the term (RepDistiller's CIFAR-100 default `-b 1`). Default 1. */
  readonly weight?: number;
  /** Width of the regressor's hidden convs. Default: the teacher's channel count. */
  readonly hiddenChannels?: number;
  /** Initial predicted variance. Default 5. */
  readonly initVariance?: number;
  /** Variance floor. Default 1e-5. */
  readonly epsilon?: number;
  /** Plugin and loss-term name. Default `vid`. */
  readonly name?: string;
}

/** Schema of {@link VariationalInformationOptions} (defaults applied). */
export const variationalInformationSchema = optionsSchema<VariationalInformationOptions>()({
  student: tapSchema('a tapped student map'),
  teacher: tapSchema('a tapped teacher map'),
  weight: weightSchema.default(1),
  hiddenChannels: variationalRegressorSchema.shape.hiddenChannels,
  initVariance: variationalRegressorSchema.shape.initVariance,
  epsilon: variationalRegressorSchema.shape.epsilon,
  name: nameSchema.default('vid'),
});

/** State of a VID plugin: its regressor. */
export interface VariationalInformationState {
  readonly regressor: VariationalRegressor;
}

/**
 * Variational information distillation (Ahn et al., CVPR 2019) as a plugin, with RepDistiller's
 * semantics: when the spatial sizes differ the larger map is average-pooled to the smaller
 * (integer factors), a {@link VariationalRegressor} predicts the teacher map from the student
 * map, and the term is {@link variationalInformationLoss}. The regressor (kernels and `alpha`) is
 * trained with the student and checkpointed; `dispose()` frees it.
 *
 * @example
 * distiller.use(hardLabel()).use(variationalInformation({ student: 's_group2', teacher: 't_group2' }));
 */
export function variationalInformation(options: VariationalInformationOptions): DistillationPlugin<VariationalInformationState> {
  const { student, teacher, weight, hiddenChannels, initVariance, epsilon, name } = parseOptions(
    variationalInformationSchema,
    options,
    'variationalInformation',
  );
  return definePlugin<VariationalInformationState>({
    name,
    label: name,
    weight,
    needsTeacher: true,
    taps: { student: [student], teacher: [teacher] },
    setup(context) {
      const [s, t] = tappedShapes(context, name, student, teacher);
      const where = `Plugin "${name}" (student "${student}" -> teacher "${teacher}")`;
      checkPoolable(s, 'student', t, 'teacher', where);
      try {
        return {
          regressor: new VariationalRegressor(s, t, {
            ...(hiddenChannels !== undefined ? { hiddenChannels } : {}),
            initVariance,
            epsilon,
            seed: context.random.seed(),
            name,
          }),
        };
      } catch (error) {
        if (isDistillationError(error)) error.message = `${where}: ${error.message}`;
        throw error;
      }
    },
    variables: (state) => state.regressor.variables,
    loss(outputs, context) {
      const [s, t] = tappedFeatures(outputs, name, student, teacher);
      return tf.tidy(() => {
        const [pooledStudent, pooledTeacher] = poolToSmaller(s as tf.Tensor4D, t as tf.Tensor4D);
        const regressor = context.state.regressor;
        return variationalInformationLoss(regressor.apply(pooledStudent), regressor.logScale, pooledTeacher, regressor.epsilon);
      });
    },
    state: (state) => ({ tensors: state.regressor.weights() }),
    loadState(state, checkpoint) {
      state.regressor.setWeights(checkpoint.tensors);
    },
    dispose(state) {
      state.regressor.dispose();
    },
  });
}
