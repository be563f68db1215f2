import * as tf from '@tensorflow/tfjs-core';
import { DistillationError } from '../errors';

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
  return tf.tidy(() => {
    const [batch, classes] = logits.shape;
    const target = labels.rank === 1 ? tf.oneHot(tf.cast(labels, 'int32') as tf.Tensor1D, classes) : (labels as tf.Tensor2D);
    if (target.shape[1] !== classes) {
      throw new DistillationError('shape-mismatch', `hardLabelLoss: soft labels have ${target.shape[1]} classes, logits ${classes}`);
    }
    return tf.div(tf.neg(tf.sum(tf.mul(target, tf.logSoftmax(logits)))), batch) as tf.Scalar;
  });
}
