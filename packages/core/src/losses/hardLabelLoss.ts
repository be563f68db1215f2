import * as tf from '@tensorflow/tfjs-core';
import { DistillationError } from '../errors';
import { fusedHardLabelLoss } from './fusedKernels';

/**
 * Ordinary cross-entropy at T = 1 between integer labels `[batch]` and logits `[batch, classes]`,
 * averaged over the batch. With `softLabels` (`[batch, classes]`, rows summing to 1, e.g. after
 * MixUp) it is `-sum(y * log softmax(z)) / batch`.
 */
export function hardLabelLoss(logits: tf.Tensor2D, labels: tf.Tensor1D | tf.Tensor2D): tf.Scalar {
  if (logits.rank !== 2) {
    throw new DistillationError('logits-not-2d', `hardLabelLoss: logits must be 2-D [batch, classes], got shape [${logits.shape}]`);
  }
  if (labels.shape[0] !== logits.shape[0]) {
    throw new DistillationError('shape-mismatch', `hardLabelLoss: ${labels.shape[0]} labels for a batch of ${logits.shape[0]} logits`);
  }
  if (labels.rank === 2 && labels.shape[1] !== logits.shape[1]) {
    throw new DistillationError('shape-mismatch', `hardLabelLoss: soft labels have ${labels.shape[1]} classes, logits ${logits.shape[1]}`);
  }
  // One kernel forward and one backward where the backend registered kd's fused loss.
  const fused = fusedHardLabelLoss(logits, labels);
  if (fused) return fused;
  return tf.tidy(() => {
    const classes = logits.shape[1];
    const target =
      labels.rank === 1
        ? tf.oneHot((labels.dtype === 'int32' ? labels : tf.cast(labels, 'int32')) as tf.Tensor1D, classes)
        : (labels as tf.Tensor2D);
    if (target.shape[1] !== classes) {
      throw new DistillationError('shape-mismatch', `hardLabelLoss: soft labels have ${target.shape[1]} classes, logits ${classes}`);
    }
    return crossEntropy(logits, target as tf.Tensor2D);
  });
}

/**
 * `-sum(y * logSoftmax(z)) / batch` as one custom-gradient op: the backward pass is the closed form
 * `dL/dz = (softmax(z) * sum(y) - y) / batch` (`(softmax(z) - y) / batch` for one-hot rows) and
 * `dL/dy = -logSoftmax(z) / batch`, a few kernels instead of autodiff through log-softmax.
 */
const crossEntropy = tf.customGrad(((z: tf.Tensor, y: tf.Tensor, save: tf.GradSaveFunc) => {
  const batch = z.shape[0]!;
  const logQ = tf.logSoftmax(z);
  const value = tf.div(tf.neg(tf.sum(tf.mul(y, logQ))), batch) as tf.Scalar;
  save([logQ, y]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [savedLogQ, savedY] = saved as [tf.Tensor2D, tf.Tensor2D];
      const scale = tf.div(dy, batch);
      const dz = tf.mul(tf.sub(tf.mul(tf.exp(savedLogQ), tf.sum(savedY, 1, true)), savedY), scale);
      return [dz, tf.mul(tf.neg(savedLogQ), scale)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (z: tf.Tensor2D, y: tf.Tensor2D) => tf.Scalar;
