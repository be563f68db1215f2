import { DistillationError, type LayerShape, optionsSchema, parseOptions } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { FitnetError } from './errors';
import { uniqueName } from './layers';
import { nameSchema } from './options';

/**
 * How a hint regressor maps the student's guided-layer output to the teacher's hint shape
 * (RepDistiller `ConvReg` for maps, a linear layer for vectors; docs/methods.md §6.2):
 * - `linear`: vectors `[B, s] -> [B, t]`, `x W + b` (no normalisation, no activation);
 * - `conv-stride2`: student map twice the teacher's height: conv 3x3, stride 2, padding 1;
 * - `transposed-conv`: student map half the teacher's height: transposed conv 4x4, stride 2, padding 1;
 * - `conv`: otherwise (student height >= teacher height): conv with kernel `(1+sH-tH, 1+sW-tW)`,
 *   stride 1, no padding (1x1 when the sizes agree).
 * Map regressors then apply batch normalisation (batch statistics) and, by default, ReLU.
 */
export type RegressorKind = 'linear' | 'conv-stride2' | 'transposed-conv' | 'conv';

/** The shape plan of a regressor, decided from the two tapped shapes alone. */
export interface RegressorPlan {
  readonly kind: RegressorKind;
  /** Kernel shape: `[s, t]` (linear), `[kH, kW, sC, tC]` (conv), `[4, 4, tC, sC]` (transposed). */
  readonly kernelShape: readonly number[];
  /** One example's input shape (no batch dimension). */
  readonly inputShape: readonly number[];
  /** One example's output shape = the teacher's hint shape. */
  readonly outputShape: readonly number[];
}

/** Options of {@link HintRegressor}. */
export interface HintRegressorOptions {
  /** Seed of the weight initialisation (draw it from the run's `SeededRandom`). Default 0. */
  readonly seed?: number;
  /** Prefix of the tfjs variable names (made unique per process). Default `fitnet_regressor`. */
  readonly name?: string;
  /** ReLU after the batch norm of a map regressor (RepDistiller `use_relu`). Default true. */
  readonly relu?: boolean;
  /** Batch-norm epsilon. Default 1e-5 (PyTorch's). */
  readonly epsilon?: number;
}

/** Schema of {@link HintRegressorOptions} (defaults applied). */
export const hintRegressorSchema = optionsSchema<HintRegressorOptions>()({
  seed: z.number({ message: 'must be a finite number' }).default(0),
  name: nameSchema.default('fitnet_regressor'),
  relu: z.boolean({ message: 'must be a boolean' }).default(true),
  epsilon: z.number({ message: 'must be a finite number > 0' }).positive({ message: 'must be > 0' }).default(1e-5),
});

/**
 * Decides the regressor for a student shape and a teacher shape (batch dimension first, as the
 * core reports tapped shapes). Throws `rank-mismatch`, `unsupported-rank`, `unknown-size` or
 * `unsupported-size-relation` with both shapes in the message when no reference regressor fits.
 */
export function planRegressor(studentShape: LayerShape, teacherShape: LayerShape): RegressorPlan {
  for (const [what, shape] of [
    ['studentShape', studentShape],
    ['teacherShape', teacherShape],
  ] as const) {
    if (!Array.isArray(shape) || shape.some((d) => d !== null && typeof d !== 'number')) {
      throw new DistillationError(
        'bad-option',
        `planRegressor: ${what} must be a shape (an array of sizes, batch first), got ${String(shape)}`,
      );
    }
  }
  const s = studentShape.slice(1);
  const t = teacherShape.slice(1);
  const show = `student [${studentShape.map(String)}], teacher [${teacherShape.map(String)}]`;
  if (s.length !== t.length) {
    throw new FitnetError(
      'rank-mismatch',
      `FitNet regressor: the student feature has rank ${studentShape.length} and the teacher hint rank ${teacherShape.length} (${show}); ` +
        'both must be vectors [batch, features] or both NHWC maps [batch, height, width, channels]',
    );
  }
  if (s.length !== 1 && s.length !== 3) {
    throw new FitnetError(
      'unsupported-rank',
      `FitNet regressor: features must be vectors [batch, features] or NHWC maps [batch, height, width, channels] (${show})`,
    );
  }
  if ([...s, ...t].some((d) => d == null || !Number.isInteger(d) || d <= 0)) {
    throw new FitnetError('unknown-size', `FitNet regressor: every non-batch dimension must be known (${show})`);
  }
  const [sA, sB, sC] = s as number[];
  const [tA, tB, tC] = t as number[];
  if (s.length === 1) {
    return { kind: 'linear', kernelShape: [sA!, tA!], inputShape: [sA!], outputShape: [tA!] };
  }
  const [sH, sW, sCh, tH, tW, tCh] = [sA!, sB!, sC!, tA!, tB!, tC!];
  let plan: RegressorPlan;
  let produced: [number, number];
  if (sH === 2 * tH) {
    plan = { kind: 'conv-stride2', kernelShape: [3, 3, sCh, tCh], inputShape: [sH, sW, sCh], outputShape: [tH, tW, tCh] };
    produced = [Math.floor((sH - 1) / 2) + 1, Math.floor((sW - 1) / 2) + 1];
  } else if (2 * sH === tH) {
    plan = { kind: 'transposed-conv', kernelShape: [4, 4, tCh, sCh], inputShape: [sH, sW, sCh], outputShape: [tH, tW, tCh] };
    produced = [2 * sH, 2 * sW];
  } else if (sH >= tH) {
    if (sW < tW) {
      throw new FitnetError(
        'unsupported-size-relation',
        `FitNet regressor: the student map is ${sH}x${sW}, the teacher's ${tH}x${tW}: a conv of kernel (1+sH-tH, 1+sW-tW) needs the student at least as wide as the teacher (${show})`,
      );
    }
    plan = { kind: 'conv', kernelShape: [1 + sH - tH, 1 + sW - tW, sCh, tCh], inputShape: [sH, sW, sCh], outputShape: [tH, tW, tCh] };
    produced = [tH, tW];
  } else {
    throw new FitnetError(
      'unsupported-size-relation',
      `FitNet regressor: the student map (${sH}x${sW}) is smaller than the teacher's (${tH}x${tW}) but not exactly half its height; ` +
        `the reference regressors handle a student twice, half, or at least the teacher's size (${show})`,
    );
  }
  if (produced[0] !== tH || produced[1] !== tW) {
    throw new FitnetError(
      'unsupported-size-relation',
      `FitNet regressor: a ${plan.kind} regressor (chosen from the heights ${sH} and ${tH}) maps the student's ${sH}x${sW} map to ${produced[0]}x${produced[1]}, not the teacher's ${tH}x${tW} (${show})`,
    );
  }
  return plan;
}

/**
 * A FitNets hint regressor: maps the student's guided-layer output `[B, ...inputShape]` to the
 * teacher's hint shape `[B, ...outputShape]`; see {@link RegressorKind} for the four forms.
 *
 * Weights are initialised like PyTorch's defaults: kernel and bias uniform in
 * `[-1/sqrt(fanIn), 1/sqrt(fanIn)]` with `fanIn = in` (linear), `kH*kW*sC` (conv) or `4*4*tC`
 * (transposed conv, PyTorch's fan-in of a `ConvTranspose2d` weight), batch-norm `gamma = 1`,
 * `beta = 0`. All variables are trainable and listed by {@link HintRegressor.variables}.
 *
 * Batch normalisation always uses the statistics of the current batch (over batch, height and
 * width; biased variance), with trainable `gamma`/`beta`. No running statistics are kept: the
 * regressor only exists to compute the hint loss during training, where PyTorch's `BatchNorm2d`
 * (train mode) also normalises with batch statistics; its running averages are never read by the
 * reference (the regressor is discarded after training), so keeping them would change nothing.
 */
export class HintRegressor {
  readonly kind: RegressorKind;
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];
  readonly kernel: tf.Variable;
  readonly bias: tf.Variable<tf.Rank.R1>;
  /** Batch-norm scale (map regressors only). */
  readonly gamma?: tf.Variable<tf.Rank.R1>;
  /** Batch-norm offset (map regressors only). */
  readonly beta?: tf.Variable<tf.Rank.R1>;
  readonly relu: boolean;
  readonly epsilon: number;

  /** Builds the regressor {@link planRegressor} chooses for the two shapes (batch dimension first). */
  constructor(studentShape: LayerShape, teacherShape: LayerShape, options: HintRegressorOptions = {}) {
    const parsed = parseOptions(hintRegressorSchema, options, 'HintRegressor');
    const plan = planRegressor(studentShape, teacherShape);
    this.kind = plan.kind;
    this.inputShape = plan.inputShape;
    this.outputShape = plan.outputShape;
    this.relu = parsed.relu;
    this.epsilon = parsed.epsilon;
    const seed = parsed.seed;
    const name = uniqueName(parsed.name);
    const k = plan.kernelShape;
    // linear [s, t]: s; conv [kH, kW, sC, tC]: kH*kW*sC; transposed [4, 4, tC, sC]: 16*tC (as PyTorch).
    const fanIn = plan.kind === 'linear' ? k[0]! : k[0]! * k[1]! * k[2]!;
    const bound = 1 / Math.sqrt(fanIn);
    const outChannels = plan.outputShape.at(-1)!;
    this.kernel = tf.tidy(() => tf.variable(tf.randomUniform([...k], -bound, bound, 'float32', seed), true, `${name}/kernel`));
    this.bias = tf.tidy(() =>
      tf.variable(tf.randomUniform([outChannels], -bound, bound, 'float32', seed + 1), true, `${name}/bias`),
    ) as tf.Variable<tf.Rank.R1>;
    if (plan.kind !== 'linear') {
      this.gamma = tf.tidy(() => tf.variable(tf.ones([outChannels]), true, `${name}/gamma`)) as tf.Variable<tf.Rank.R1>;
      this.beta = tf.tidy(() => tf.variable(tf.zeros([outChannels]), true, `${name}/beta`)) as tf.Variable<tf.Rank.R1>;
    }
  }

  /** The trainable variables: kernel, bias and, for maps, gamma and beta. */
  get variables(): tf.Variable[] {
    return [this.kernel, this.bias, ...(this.gamma ? [this.gamma] : []), ...(this.beta ? [this.beta] : [])];
  }

  /** One line for logs, e.g. `conv 3x3 stride 2 pad 1 [4,4,2] -> [2,2,3] + batchnorm + relu`. */
  describe(): string {
    const k = this.kernel.shape;
    const op =
      this.kind === 'linear'
        ? 'linear'
        : this.kind === 'conv-stride2'
          ? 'conv 3x3 stride 2 pad 1'
          : this.kind === 'transposed-conv'
            ? 'transposed conv 4x4 stride 2 pad 1'
            : `conv ${k[0]}x${k[1]}`;
    const tail = this.kind === 'linear' ? '' : ` + batchnorm${this.relu ? ' + relu' : ''}`;
    return `${op} [${this.inputShape}] -> [${this.outputShape}]${tail}`;
  }

  /**
   * Regresses a batch of student features to the teacher's hint shape. Safe inside a gradient
   * tape. Throws `feature-shape-mismatch` when an example's shape is not `inputShape`.
   */
  apply(x: tf.Tensor): tf.Tensor {
    const shape = x.shape.slice(1);
    if (shape.length !== this.inputShape.length || shape.some((d, i) => d !== this.inputShape[i])) {
      throw new FitnetError(
        'feature-shape-mismatch',
        `FitNet regressor (${this.kind}): expected student features [batch, ${this.inputShape}], got [${x.shape}]`,
      );
    }
    return tf.tidy(() => {
      if (this.kind === 'linear') return tf.add(tf.matMul(x as tf.Tensor2D, this.kernel as tf.Tensor2D), this.bias);
      const x4 = x as tf.Tensor4D;
      const kernel = this.kernel as tf.Tensor4D;
      let y: tf.Tensor4D;
      if (this.kind === 'conv-stride2') {
        const padded = tf.pad(x4, [
          [0, 0],
          [1, 1],
          [1, 1],
          [0, 0],
        ]);
        y = tf.conv2d(padded, kernel, 2, 'valid');
      } else if (this.kind === 'transposed-conv') {
        const [h, w] = this.outputShape as [number, number, number];
        y = tf.conv2dTranspose(x4, kernel, [x4.shape[0], h, w, this.outputShape[2]!], 2, 1);
      } else {
        y = tf.conv2d(x4, kernel, 1, 'valid');
      }
      y = tf.add(y, this.bias);
      const { mean, variance } = tf.moments(y, [0, 1, 2]);
      // tf.batchNorm needs both offset and scale to be differentiable.
      const normalised = tf.batchNorm(y, mean, variance, this.beta!, this.gamma!, this.epsilon);
      return this.relu ? tf.relu(normalised) : normalised;
    });
  }

  /** The weights by name (`kernel`, `bias`, and `gamma`, `beta` for maps); live variables, do not dispose. */
  weights(): Record<string, tf.Variable> {
    return {
      kernel: this.kernel,
      bias: this.bias,
      ...(this.gamma ? { gamma: this.gamma } : {}),
      ...(this.beta ? { beta: this.beta } : {}),
    };
  }

  /** Replaces weights by name (from a checkpoint, or from PyTorch after permuting kernels). */
  setWeights(weights: Readonly<Record<string, tf.Tensor>>): void {
    const own = this.weights();
    for (const [key, value] of Object.entries(weights)) {
      const target = own[key];
      if (!target) {
        throw new DistillationError('checkpoint-mismatch', `FitNet regressor: no weight "${key}" (has ${Object.keys(own).join(', ')})`);
      }
      if (value.rank !== target.rank || value.shape.some((d, i) => d !== target.shape[i])) {
        throw new DistillationError(
          'checkpoint-mismatch',
          `FitNet regressor: weight "${key}" must be [${target.shape}], got [${value.shape}]`,
        );
      }
    }
    tf.tidy(() => {
      for (const [key, value] of Object.entries(weights)) own[key]!.assign(tf.cast(value, 'float32'));
    });
  }

  /** Frees the variables. */
  dispose(): void {
    for (const v of this.variables) v.dispose();
  }
}

/** FitNets hint loss: mean over every element of `(regressed - hint)^2` (PyTorch `MSELoss`). */
export function hintLoss(regressed: tf.Tensor, hint: tf.Tensor): tf.Scalar {
  if (regressed.rank !== hint.rank || regressed.shape.some((d, i) => d !== hint.shape[i])) {
    throw new FitnetError(
      'feature-shape-mismatch',
      `FitNet hint loss: regressed student features [${regressed.shape}] and teacher hint [${hint.shape}] differ in shape`,
    );
  }
  return tf.tidy(() => tf.mean(tf.squaredDifference(regressed, hint)) as tf.Scalar);
}
