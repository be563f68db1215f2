import { hardLabelLoss, softTargetLoss, softTargetLossFromLogits } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectSameOnCpu, rand } from './helpers';

/** Kernels dispatched by `fn`, by name. */
function kernelsOf(fn: () => void): Record<string, number> {
  const engine = tf.engine() as unknown as { runKernel: (name: string, ...rest: unknown[]) => unknown };
  const original = engine.runKernel;
  const seen: Record<string, number> = {};
  engine.runKernel = function (this: unknown, name: string, ...rest: unknown[]) {
    seen[name] = (seen[name] ?? 0) + 1;
    return original.call(this, name, ...rest);
  };
  try {
    fn();
  } finally {
    engine.runKernel = original;
  }
  return seen;
}

/**
 * `@kd/core`'s losses dispatch `@kd/backend-wasm`'s fused loss kernels on wasm (registered by the
 * set-up of these tests) and their op forms on cpu: the values and the gradients for both inputs
 * (the second through the registered gradient's op form) agree, and the wasm path is one kernel
 * forward and one backward.
 */
describe("@kd/core's losses through the fused loss kernels on wasm, against their op forms on cpu", () => {
  // Made inside each computation, on the backend it runs on (a tensor moved across backends would read as a leak).
  const inputs = () => [rand([32, 10], 1), rand([32, 10], 2)] as [tf.Tensor2D, tf.Tensor2D];

  for (const form of ['kl', 'cross-entropy'] as const) {
    for (const T of [1, 4]) {
      it(`softTargetLoss ${form}, T = ${T}: value, d/dlogits and d/dlogP agree; 2 kernels on wasm`, () => {
        const f = () =>
          tf.tidy(() => {
            const [z, v] = inputs();
            const logP = tf.logSoftmax(tf.div(v, T)) as tf.Tensor2D;
            const g = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) => softTargetLoss(a as tf.Tensor2D, b as tf.Tensor2D, T, form));
            const { value, grads } = g([z, logP], tf.scalar(0.7));
            return [value, ...grads];
          });
        expectSameOnCpu(f);
        tf.setBackend('wasm');
        const [z, v] = inputs();
        const logP = tf.logSoftmax(tf.div(v, T)) as tf.Tensor2D;
        const counts = kernelsOf(() => tf.tidy(() => void tf.grad((a: tf.Tensor) => softTargetLoss(a as tf.Tensor2D, logP, T, form))(z)));
        tf.dispose([z, v, logP]);
        expect(counts.KdSoftTargetLoss).toBe(1);
        expect(counts.KdSoftTargetLossGrad).toBe(1);
        // Only the logits' gradient is computed (logP is not differentiated): no op-form kernels.
        expect(counts.Exp ?? 0).toBe(0);
      });
    }
  }

  it('hardLabelLoss with int32 labels and with soft targets: value and gradients agree; 2 kernels on wasm, no one-hot', () => {
    const ids = [3, 0, 9, 1, 5, 5, 2, 1, 7, 8, 6, 4, 3, 2, 1, 0, 3, 0, 9, 1, 5, 5, 2, 1, 7, 8, 6, 4, 3, 2, 1, 0];
    expectSameOnCpu(() =>
      tf.tidy(() => {
        const [z] = inputs();
        const labels = tf.tensor1d(ids, 'int32');
        const { value, grad } = tf.valueAndGrad((a: tf.Tensor) => hardLabelLoss(a as tf.Tensor2D, labels))(z);
        return [value, grad];
      }),
    );
    expectSameOnCpu(() =>
      tf.tidy(() => {
        const [z, v] = inputs();
        const targets = tf.softmax(v) as tf.Tensor2D;
        const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) => hardLabelLoss(a as tf.Tensor2D, b as tf.Tensor2D))([
          z,
          targets,
        ]);
        return [value, ...grads];
      }),
    );
    tf.setBackend('wasm');
    const [z, v] = inputs();
    const labels = tf.tensor1d(ids, 'int32');
    const counts = kernelsOf(() => tf.tidy(() => void tf.grad((a: tf.Tensor) => hardLabelLoss(a as tf.Tensor2D, labels))(z)));
    tf.dispose([z, v]);
    expect(counts.KdHardLabelLoss).toBe(1);
    expect(counts.KdHardLabelLossGrad).toBe(1);
    expect(counts.OneHot ?? 0).toBe(0);
    labels.dispose();
  });

  it('softTargetLossFromLogits (KdLogSoftmax for the teacher at T): value and gradients for both logits agree; no op-form log-softmax on wasm', () => {
    const f = () =>
      tf.tidy(() => {
        const [z, v] = inputs();
        const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) =>
          softTargetLossFromLogits(a as tf.Tensor2D, b as tf.Tensor2D, 4),
        )([z, v]);
        return [value, ...grads];
      });
    expectSameOnCpu(f);
    tf.setBackend('wasm');
    const [z, v] = inputs();
    const counts = kernelsOf(() => tf.tidy(() => void tf.grad((a: tf.Tensor) => softTargetLossFromLogits(a as tf.Tensor2D, v, 4))(z)));
    tf.dispose([z, v]);
    expect(counts.KdLogSoftmax).toBe(1);
    expect(counts.Max ?? 0).toBe(0);
    expect(counts.Exp ?? 0).toBe(0);
  });
});
