import { DistillationError } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { RelationalError } from './errors';
import { normalize } from './features';

let counter = 0;

/** Options of {@link EmbeddingHead}. */
export interface EmbeddingHeadOptions {
  /** L2-normalise each embedding after the linear map. Default false (RepDistiller `LinearEmbed`). */
  readonly normalize?: boolean;
  /** Seed of the weight initialisation (draw it from the run's `SeededRandom`). Default 0. */
  readonly seed?: number;
  /** Prefix of the tfjs variable names (made unique per process). Default `embedding`. */
  readonly name?: string;
}

/**
 * The embedding head of CC: a linear map `inputSize -> embeddingSize` of the features
 * flattened per example (RepDistiller `LinearEmbed`), optionally followed by L2 normalisation of
 * each row (RepDistiller `Embed`; the norm floored at 1e-12, so an all-zero row stays zero
 * instead of NaN). Weights are initialised like PyTorch's `nn.Linear`: kernel and bias uniform in
 * `[-1/sqrt(inputSize), 1/sqrt(inputSize)]`. The kernel is `[inputSize, embeddingSize]`, the
 * transpose of PyTorch's `weight`. Both variables are trainable.
 */
export class EmbeddingHead {
  /** Kernel `[inputSize, embeddingSize]`. */
  readonly kernel: tf.Variable<tf.Rank.R2>;
  /** Bias `[embeddingSize]`. */
  readonly bias: tf.Variable<tf.Rank.R1>;
  /** Whether rows are L2-normalised after the linear map. */
  readonly normalize: boolean;

  /**
   * @param inputSize Flattened size of one input example.
   * @param embeddingSize Size of one embedding (RepDistiller `feat_dim`, 128).
   */
  constructor(
    readonly inputSize: number,
    readonly embeddingSize: number,
    options: EmbeddingHeadOptions = {},
  ) {
    for (const [what, value] of [
      ['inputSize', inputSize],
      ['embeddingSize', embeddingSize],
    ] as const) {
      if (!Number.isInteger(value) || value <= 0) {
        throw new DistillationError('bad-option', `EmbeddingHead: ${what} must be a positive integer, got ${String(value)}`);
      }
    }
    const seed = options.seed ?? 0;
    if (!Number.isFinite(seed)) throw new DistillationError('bad-option', `EmbeddingHead: seed must be a finite number, got ${seed}`);
    this.normalize = options.normalize ?? false;
    counter += 1;
    const prefix = `${options.name ?? 'embedding'}_${counter}`;
    const bound = 1 / Math.sqrt(inputSize);
    this.kernel = tf.tidy(() =>
      tf.variable(tf.randomUniform([inputSize, embeddingSize], -bound, bound, 'float32', seed), true, `${prefix}/kernel`),
    ) as tf.Variable<tf.Rank.R2>;
    this.bias = tf.tidy(() =>
      tf.variable(tf.randomUniform([embeddingSize], -bound, bound, 'float32', seed + 1), true, `${prefix}/bias`),
    ) as tf.Variable<tf.Rank.R1>;
  }

  /** The trainable variables (kernel, bias). */
  get variables(): tf.Variable[] {
    return [this.kernel, this.bias];
  }

  /**
   * Embeds a batch `[B, ...]` (flattened per example) to `[B, embeddingSize]`. Throws
   * `feature-shape-mismatch` when an example does not have `inputSize` values.
   */
  apply(x: tf.Tensor): tf.Tensor2D {
    const batch = x.shape[0] ?? 0;
    if (x.rank < 2 || batch === 0 || x.size / batch !== this.inputSize) {
      throw new RelationalError(
        'feature-shape-mismatch',
        `EmbeddingHead: expected features [batch, ${this.inputSize}] (or any shape with ${this.inputSize} values per example), got [${x.shape}]`,
      );
    }
    return tf.tidy(() => {
      const flat = x.rank === 2 ? x : tf.reshape(x, [batch, this.inputSize]);
      const linear = tf.add(tf.matMul(flat as tf.Tensor2D, this.kernel), this.bias);
      return (this.normalize ? normalize(linear, 1) : linear) as tf.Tensor2D;
    });
  }

  /** The weights by name (`kernel`, `bias`), for checkpoints. */
  weights(): Record<string, tf.Tensor> {
    return { kernel: this.kernel, bias: this.bias };
  }

  /**
   * Replaces the weights with copies of `kernel` and `bias` (from a checkpoint, or PyTorch's
   * `weight.T` / `bias`). Throws core's `checkpoint-mismatch` for another shape, before changing
   * anything.
   */
  setWeights(kernel: tf.Tensor, bias: tf.Tensor): void {
    this.checkWeights(kernel, bias);
    // Copies with their own storage: a variable must not share it with the caller's tensors.
    const k = tf.tensor2d(Float32Array.from(kernel.dataSync()), [this.inputSize, this.embeddingSize]);
    const b = tf.tensor1d(Float32Array.from(bias.dataSync()));
    this.kernel.assign(k);
    this.bias.assign(b);
    tf.dispose([k, b]);
  }

  /** Throws core's `checkpoint-mismatch` unless `kernel` and `bias` fit this head (float32, its shapes). */
  checkWeights(kernel: unknown, bias: unknown): void {
    if (
      !(kernel instanceof tf.Tensor) ||
      kernel.dtype !== 'float32' ||
      kernel.rank !== 2 ||
      kernel.shape[0] !== this.inputSize ||
      kernel.shape[1] !== this.embeddingSize
    ) {
      throw new DistillationError(
        'checkpoint-mismatch',
        `EmbeddingHead: kernel must be float32 [${this.inputSize}, ${this.embeddingSize}], got ${kernel instanceof tf.Tensor ? `${kernel.dtype} [${kernel.shape}]` : String(kernel)}`,
      );
    }
    if (!(bias instanceof tf.Tensor) || bias.dtype !== 'float32' || bias.rank !== 1 || bias.shape[0] !== this.embeddingSize) {
      throw new DistillationError(
        'checkpoint-mismatch',
        `EmbeddingHead: bias must be float32 [${this.embeddingSize}], got ${bias instanceof tf.Tensor ? `${bias.dtype} [${bias.shape}]` : String(bias)}`,
      );
    }
  }

  /** Frees the variables. */
  dispose(): void {
    this.kernel.dispose();
    this.bias.dispose();
  }
}
