import { DistillationError, optionsSchema, parseOptions } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { CrdError } from './errors';
import { uniqueId } from './ids';
import { nameSchema, seedSchema } from './options';
import { copyOf } from './rows';

/** Options of {@link EmbedHead}. */
export interface EmbedHeadOptions {
  /** Seed of the weight initialisation (draw it from the run's `SeededRandom`). Default 0. */
  readonly seed?: number;
  /** Prefix of the tfjs variable names (made unique per process). Default `crd_embed`. */
  readonly name?: string;
}

/** Schema of {@link EmbedHeadOptions} (defaults applied). */
export const embedHeadSchema = optionsSchema<EmbedHeadOptions>()({
  seed: seedSchema.default(0),
  name: nameSchema.default('crd_embed'),
});

/**
 * CRD's embedding head: a linear map `dim_in -> featureDim` followed by L2 normalisation of each
 * row (RepDistiller `Embed`). Inputs of any rank are flattened to `[batch, dim_in]` first.
 *
 * Weights are initialised like PyTorch's `nn.Linear` (kernel and bias uniform in
 * `[-1/sqrt(dim_in), 1/sqrt(dim_in)]`). The kernel is stored `[dim_in, featureDim]`, i.e. the
 * transpose of PyTorch's `weight`. Both variables are trainable; the CRD plugin returns them
 * through its `variables` hook so the Distiller's optimizer trains them with the student.
 */
export class EmbedHead {
  /** Kernel `[inputDim, outputDim]`. */
  readonly kernel: tf.Variable<tf.Rank.R2>;
  /** Bias `[outputDim]`. */
  readonly bias: tf.Variable<tf.Rank.R1>;

  /**
   * @param inputDim Flattened size of one input example (the pooled penultimate feature).
   * @param outputDim Embedding size (CRD `feat_dim`, default 128).
   */
  constructor(
    readonly inputDim: number,
    readonly outputDim = 128,
    options: EmbedHeadOptions = {},
  ) {
    for (const [what, value] of [
      ['inputDim', inputDim],
      ['outputDim', outputDim],
    ] as const) {
      if (!Number.isInteger(value) || value <= 0) {
        throw new DistillationError('bad-option', `EmbedHead: ${what} must be a positive integer, got ${value}`);
      }
    }
    const parsed = parseOptions(embedHeadSchema, options, 'EmbedHead');
    const bound = 1 / Math.sqrt(inputDim);
    const seed = parsed.seed;
    const name = uniqueId(parsed.name);
    this.kernel = tf.tidy(() =>
      tf.variable(tf.randomUniform([inputDim, outputDim], -bound, bound, 'float32', seed), true, `${name}/kernel`),
    ) as tf.Variable<tf.Rank.R2>;
    this.bias = tf.tidy(() =>
      tf.variable(tf.randomUniform([outputDim], -bound, bound, 'float32', seed + 1), true, `${name}/bias`),
    ) as tf.Variable<tf.Rank.R1>;
  }

  /** The trainable variables (kernel, bias). */
  get variables(): tf.Variable[] {
    return [this.kernel, this.bias];
  }

  /**
   * Embeds a batch: `l2normalize(flatten(x) @ kernel + bias)`, shape `[batch, outputDim]`.
   * Throws `feature-dim-mismatch` when an example's flattened size is not `inputDim`.
   */
  apply(x: tf.Tensor): tf.Tensor2D {
    const batch = x.shape[0] ?? 0;
    const size = x.rank === 0 ? 1 : x.size / Math.max(batch, 1);
    if (x.rank < 2 || size !== this.inputDim) {
      throw new CrdError(
        'feature-dim-mismatch',
        `EmbedHead: expected features [batch, ${this.inputDim}] (or any shape flattening to ${this.inputDim} per example), got [${x.shape}]`,
      );
    }
    return tf.tidy(() => {
      const flat = x.rank === 2 ? x : tf.reshape(x, [batch, this.inputDim]);
      const linear = tf.add(tf.matMul(flat as tf.Tensor2D, this.kernel), this.bias);
      return l2Normalize(linear as tf.Tensor2D);
    });
  }

  /**
   * Throws `checkpoint-mismatch` (naming `where`) unless `kernel` is `[inputDim, outputDim]` and
   * `bias` `[outputDim]`; changes nothing. {@link setWeights} runs it first.
   */
  checkWeights(kernel: unknown, bias: unknown, where = 'EmbedHead.setWeights'): void {
    if (!(kernel instanceof tf.Tensor) || kernel.rank !== 2 || kernel.shape[0] !== this.inputDim || kernel.shape[1] !== this.outputDim) {
      throw new DistillationError(
        'checkpoint-mismatch',
        `${where}: kernel must be [${this.inputDim}, ${this.outputDim}], got [${kernel instanceof tf.Tensor ? kernel.shape : typeof kernel}]`,
      );
    }
    if (!(bias instanceof tf.Tensor) || bias.rank !== 1 || bias.shape[0] !== this.outputDim) {
      throw new DistillationError(
        'checkpoint-mismatch',
        `${where}: bias must be [${this.outputDim}], got [${bias instanceof tf.Tensor ? bias.shape : typeof bias}]`,
      );
    }
  }

  /** Replaces the weights (e.g. from a checkpoint or a PyTorch `weight.T` / `bias`); shapes are checked first. */
  setWeights(kernel: tf.Tensor, bias: tf.Tensor): void {
    this.checkWeights(kernel, bias);
    tf.tidy(() => {
      this.kernel.assign(copyOf(kernel as tf.Tensor2D));
      this.bias.assign(copyOf(bias as tf.Tensor1D));
    });
  }

  /** Frees the variables. */
  dispose(): void {
    this.kernel.dispose();
    this.bias.dispose();
  }
}

/**
 * Row-wise L2 normalisation `x / ||x||_2` (RepDistiller `Normalize(2)`); the norm is floored at
 * 1e-12 so an all-zero row gives zeros instead of NaN (no effect otherwise).
 */
export function l2Normalize(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.sum(tf.square(x), 1, true));
    return tf.div(x, tf.maximum(norm, 1e-12)) as tf.Tensor2D;
  });
}
