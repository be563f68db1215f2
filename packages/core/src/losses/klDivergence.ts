import * as tf from '@tensorflow/tfjs-core';

/**
 * `KL(p || q) = sum_i p_i (log p_i - log q_i)`, summed over the last axis and averaged over the
 * batch, from log-probabilities `[batch, classes]`. Matches PyTorch
 * `F.kl_div(logQ, P, reduction='sum') / batch`.
 */
export function klDivergence(logP: tf.Tensor2D, logQ: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const batch = logP.shape[0];
    return tf.div(tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, logQ))), batch) as tf.Scalar;
  });
}
