import * as tf from '@tensorflow/tfjs-core';

/**
 * Optimizer updates as single kernels. kd's optimizers compute each variable's update with a
 * dozen element-wise ops (a kernel each); a backend package can register one kernel per update
 * under these names (`tf.registerKernel`), and the optimizers then dispatch it instead, one per
 * variable. The kernels' contract (inputs, attributes, outputs) is below; each must compute the
 * plain-op formula of its optimizer in float32, op by op, so the two paths agree to rounding.
 *
 * - `KdAdamUpdate`: inputs `{ variable, gradient, m, v }` (float32, same shape), attributes
 *   `{ beta1, beta2, epsilon, stepSize, correction, decay }`; outputs `[variable', m', v']` with
 *   `m' = beta1 m + (1 - beta1) g`, `v' = beta2 v + (1 - beta2) g^2`,
 *   `variable' = decay * variable - (m' / (sqrt(v') / correction + epsilon)) * stepSize`.
 * - `KdSgdUpdate`: inputs `{ variable, gradient }` plus `{ buffer }` with momentum, attributes
 *   `{ learningRate, momentum, nesterov, weightDecay }`; outputs `[variable']` or
 *   `[variable', buffer']` with `g = gradient + weightDecay * variable`, `buffer' = momentum buffer + g`,
 *   `variable' = variable - learningRate * (nesterov ? g + momentum buffer' : buffer')` (`g` without momentum).
 * - `KdRmspropUpdate`: inputs `{ variable, gradient, square }` plus `{ buffer }` with momentum,
 *   attributes `{ learningRate, rho, epsilon, momentum, weightDecay }`; outputs
 *   `[variable', square']` or `[variable', square', buffer']` with `g = gradient + weightDecay * variable`,
 *   `square' = rho square + (1 - rho) g^2`, `d = g / (sqrt(square') + epsilon)`,
 *   `buffer' = momentum buffer + d`, `variable' = variable - learningRate * (momentum ? buffer' : d)`.
 */
export const FUSED_UPDATE_KERNELS = { adam: 'KdAdamUpdate', sgd: 'KdSgdUpdate', rmsprop: 'KdRmspropUpdate' } as const;

/**
 * Runs the fused update kernel `name` when the active backend registers one (outside any tape:
 * optimizer updates are not differentiated), else returns undefined and the caller runs the
 * plain ops. Outputs are float32 tensors the caller owns.
 */
export function runFusedUpdate(
  name: string,
  inputs: Record<string, tf.Tensor>,
  attrs: Record<string, number | boolean>,
): tf.Tensor[] | undefined {
  if (!tf.getKernel(name, tf.getBackend())) return undefined;
  if (Object.values(inputs).some((t) => t.dtype !== 'float32')) return undefined;
  return tf.engine().runKernel(name, inputs as tf.NamedTensorMap, attrs as tf.NamedAttrMap) as unknown as tf.Tensor[];
}
