import * as tf from '@tensorflow/tfjs-core';

/**
 * Kernel names under which a backend package may register kd's losses as single kernels
 * (`tf.registerKernel`); `softTargetLoss` and `hardLabelLoss` then dispatch them instead of
 * ~20 element-wise kernels each (forward and backward), and fall back to their op forms where a
 * backend has none. Contract (all float32 unless said; `B` examples, `C` classes; means over `B`):
 * - `KdSoftTargetLoss`: inputs `{ logits, logP }` (`[B, C]`: student logits, teacher
 *   log-probabilities at the temperature), attrs `{ temperature, form }` (`form` `'kl'` or
 *   `'cross-entropy'`); output the scalar `T^2/B * sum p (logP - logQ)` (kl) or
 *   `-T^2/B * sum p logQ`, with `p = exp(logP)`, `logQ = logSoftmax(logits / T)` by row.
 * - `KdSoftTargetLossGrad`: inputs `{ logits, logP, dy }` (`dy` a scalar), attrs `{ temperature }`;
 *   output `[B, C]`: `dy * T/B * (q * rowsum(p) - p)`, `q = exp(logQ)`: the gradient for `logits`.
 * - `KdHardLabelLoss`: inputs `{ logits, labels }` (`labels` int32 `[B]` class indices, an index
 *   outside `[0, C)` counting as an all-zero target row, or float32 `[B, C]` targets); output the
 *   scalar `-1/B * sum y logQ`, `logQ = logSoftmax(logits)`, `y` the one-hot rows or targets.
 * - `KdHardLabelLossGrad`: inputs `{ logits, labels, dy }`; output `[B, C]`:
 *   `dy/B * (q * rowsum(y) - y)`: the gradient for `logits`.
 * - `KdLogSoftmax`: input `{ logits }` (`[B, C]`), attrs `{ temperature }`; output `[B, C]`:
 *   `logSoftmax(logits / T)` by row (the teacher's distribution at T).
 * The gradients for `logP`, for soft targets and through `KdLogSoftmax` are computed by ops, and
 * only when something asks for them (a trained teacher); for integer labels there is none.
 */
export const FUSED_LOSS_KERNELS = {
  logSoftmax: 'KdLogSoftmax',
  softTarget: 'KdSoftTargetLoss',
  softTargetGrad: 'KdSoftTargetLossGrad',
  hardLabel: 'KdHardLabelLoss',
  hardLabelGrad: 'KdHardLabelLossGrad',
} as const;

let gradientsRegistered = false;

/** Registers the gradients of the fused loss kernels (once). */
function registerGradients(): void {
  if (gradientsRegistered) return;
  gradientsRegistered = true;
  if (!tf.getGradient(FUSED_LOSS_KERNELS.softTarget)) {
    tf.registerGradient({
      kernelName: FUSED_LOSS_KERNELS.softTarget,
      inputsToSave: ['logits', 'logP'],
      gradFunc: (dy, saved, attrs) => {
        const [logits, logP] = saved as [tf.Tensor2D, tf.Tensor2D];
        const { temperature, form } = attrs as unknown as { temperature: number; form: 'kl' | 'cross-entropy' };
        const batch = logits.shape[0];
        return {
          logits: () =>
            tf.engine().runKernel(FUSED_LOSS_KERNELS.softTargetGrad, { logits, logP, dy: dy as tf.Tensor }, { temperature }) as tf.Tensor,
          logP: () => {
            const logQ = tf.logSoftmax(tf.div(logits, temperature));
            const p = tf.exp(logP);
            const scale = tf.mul(dy as tf.Tensor, (temperature * temperature) / batch);
            return form === 'kl' ? tf.mul(tf.mul(p, tf.add(tf.sub(logP, logQ), 1)), scale) : tf.mul(tf.neg(tf.mul(p, logQ)), scale);
          },
        };
      },
    });
  }
  if (!tf.getGradient(FUSED_LOSS_KERNELS.logSoftmax)) {
    tf.registerGradient({
      kernelName: FUSED_LOSS_KERNELS.logSoftmax,
      outputsToSave: [true],
      gradFunc: (dy, saved, attrs) => {
        const [y] = saved as [tf.Tensor2D];
        const { temperature } = attrs as unknown as { temperature: number };
        const g = dy as tf.Tensor2D;
        // d/dx logSoftmax(x / T) = (dy - softmax * rowsum(dy)) / T
        return { logits: () => tf.div(tf.sub(g, tf.mul(tf.exp(y), tf.sum(g, 1, true))), temperature) };
      },
    });
  }
  if (!tf.getGradient(FUSED_LOSS_KERNELS.hardLabel)) {
    tf.registerGradient({
      kernelName: FUSED_LOSS_KERNELS.hardLabel,
      inputsToSave: ['logits', 'labels'],
      gradFunc: (dy, saved) => {
        const [logits, labels] = saved as [tf.Tensor2D, tf.Tensor];
        return {
          logits: () => tf.engine().runKernel(FUSED_LOSS_KERNELS.hardLabelGrad, { logits, labels, dy: dy as tf.Tensor }) as tf.Tensor,
          labels: () =>
            labels.dtype === 'int32'
              ? tf.zerosLike(labels)
              : tf.mul(tf.neg(tf.logSoftmax(logits)), tf.div(dy as tf.Tensor, logits.shape[0])),
        };
      },
    });
  }
}

/** Whether the backend now in use has both kernels of a fused loss (`which`) for these float32 logits. */
function fusedAvailable(forward: string, backward: string, logits: tf.Tensor): boolean {
  if (logits.dtype !== 'float32') return false;
  const backend = tf.getBackend();
  return tf.getKernel(forward, backend) != null && tf.getKernel(backward, backend) != null;
}

/** `KdSoftTargetLoss` on the current backend, or `undefined` where it has none (the caller then uses ops). */
export function fusedSoftTargetLoss(
  logits: tf.Tensor2D,
  logP: tf.Tensor2D,
  temperature: number,
  form: 'kl' | 'cross-entropy',
): tf.Scalar | undefined {
  if (logP.dtype !== 'float32' || !fusedAvailable(FUSED_LOSS_KERNELS.softTarget, FUSED_LOSS_KERNELS.softTargetGrad, logits)) {
    return undefined;
  }
  registerGradients();
  return tf.engine().runKernel(FUSED_LOSS_KERNELS.softTarget, { logits, logP }, { temperature, form }) as tf.Scalar;
}

/**
 * `KdHardLabelLoss` on the current backend, or `undefined` where it has none. `labels`: int32
 * class indices `[B]` or float32 targets `[B, C]`.
 */
export function fusedHardLabelLoss(logits: tf.Tensor2D, labels: tf.Tensor): tf.Scalar | undefined {
  const ok = labels.rank === 1 ? labels.dtype === 'int32' : labels.dtype === 'float32';
  if (!ok || !fusedAvailable(FUSED_LOSS_KERNELS.hardLabel, FUSED_LOSS_KERNELS.hardLabelGrad, logits)) return undefined;
  registerGradients();
  return tf.engine().runKernel(FUSED_LOSS_KERNELS.hardLabel, { logits, labels }) as tf.Scalar;
}

/**
 * `logSoftmax(logits / temperature)` by row: one `KdLogSoftmax` kernel where the backend
 * registered it (float32 `[B, C]` logits), `tf.logSoftmax(tf.div(logits, temperature))` elsewhere.
 * Differentiable either way.
 */
export function logSoftmaxAt(logits: tf.Tensor2D, temperature: number): tf.Tensor2D {
  if (logits.rank === 2 && logits.dtype === 'float32' && tf.getKernel(FUSED_LOSS_KERNELS.logSoftmax, tf.getBackend()) != null) {
    registerGradients();
    return tf.engine().runKernel(FUSED_LOSS_KERNELS.logSoftmax, { logits }, { temperature }) as tf.Tensor2D;
  }
  return tf.tidy(() => tf.logSoftmax(tf.div(logits, temperature)) as tf.Tensor2D);
}
