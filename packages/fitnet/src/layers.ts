import * as tf from '@tensorflow/tfjs-core';

/**
 * Small building blocks of the method modules (VID regressor, paraphraser, translator): seeded
 * PyTorch-default initialisation and batch normalisation with batch statistics. Not exported
 * from the package.
 */

let counter = 0;

/** A process-unique variable-name prefix: `<name>_<n>`. */
export function uniqueName(name: string): string {
  counter += 1;
  return `${name}_${counter}`;
}

/**
 * A trainable variable uniform in `[-1/sqrt(fanIn), 1/sqrt(fanIn)]` (PyTorch's default for conv
 * weights, `kaiming_uniform_(a = sqrt(5))`, and biases), seeded.
 */
export function uniformVariable(shape: readonly number[], fanIn: number, seed: number, name: string): tf.Variable {
  const bound = 1 / Math.sqrt(fanIn);
  return tf.tidy(() => tf.variable(tf.randomUniform([...shape], -bound, bound, 'float32', seed), true, name));
}

/** A trainable variable filled with `value`. */
export function filledVariable(shape: readonly number[], value: number, name: string): tf.Variable {
  return tf.tidy(() => tf.variable(tf.fill([...shape], value), true, name));
}

/** Batch normalisation with the batch's statistics over N, H, W (biased variance), as PyTorch's `BatchNorm2d` in training mode. */
export function batchNormTrain(y: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon: number): tf.Tensor4D {
  const { mean, variance } = tf.moments(y, [0, 1, 2]);
  return tf.batchNorm(y, mean, variance, beta, gamma, epsilon) as tf.Tensor4D;
}

/** Checks replacement weights against live ones by name and shape; returns an error message or undefined. */
export function weightMismatch(
  own: Readonly<Record<string, tf.Variable>>,
  weights: Readonly<Record<string, tf.Tensor>>,
  where: string,
): string | undefined {
  for (const [key, value] of Object.entries(weights)) {
    const target = own[key];
    if (!target) return `${where}: no weight "${key}" (has ${Object.keys(own).join(', ')})`;
    if (!(value instanceof tf.Tensor) || value.rank !== target.rank || value.shape.some((d, i) => d !== target.shape[i])) {
      return `${where}: weight "${key}" must be [${target.shape}], got ${value instanceof tf.Tensor ? `[${value.shape}]` : String(value)}`;
    }
  }
  // A partial set would leave the missing weights at their initial values: the resume would not be exact.
  const missing = Object.keys(own).filter((key) => !(key in weights));
  if (missing.length > 0) return `${where}: the saved weights lack ${missing.map((k) => `"${k}"`).join(', ')}`;
  return undefined;
}
