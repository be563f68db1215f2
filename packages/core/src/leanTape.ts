import * as tf from '@tensorflow/tfjs-core';

/** The private engine members {@link withLeanSaves} relies on (tfjs-core 4.x). */
interface SavingEngine {
  clone?: (x: tf.Tensor) => tf.Tensor;
  makeTensorFromTensorInfo?: (info: { dataId: object; shape: number[]; dtype: tf.DataType }) => tf.Tensor;
  state?: { tensorInfo?: { get(dataId: object): { backend?: { incRef?: (dataId: object) => void } } | undefined } };
}

/**
 * Runs `f` (a first-order gradient computation) with tfjs' saving of tensors for the backward pass
 * made lean. tfjs' engine copies every tensor a gradient will need (`engine.clone`, used only for
 * those saves, by kernels and by `customGrad`) with an `Identity` kernel and a tape node, so that a
 * gradient of a gradient can trace the copy back to its input. Here each is instead a second handle
 * on the same data, one more reference counted by its backend (as tfjs' own Reshape takes), with
 * no kernel dispatched. Disposing the original stays safe, results are the same bits, and ~35-45
 * fewer kernels run per training step. Only for first-order gradients, which is all a Distiller
 * step computes: a plugin's loss must not take gradients itself. Feature-detected: on a tfjs
 * without these private members, or a backend without `incRef`, the engine's own copy is used.
 */
export function withLeanSaves<T>(f: () => T): T {
  const engine = tf.engine() as unknown as SavingEngine;
  const original = engine.clone;
  if (typeof original !== 'function' || typeof engine.makeTensorFromTensorInfo !== 'function' || Object.hasOwn(engine, 'clone')) {
    return f();
  }
  engine.clone = function (this: Required<SavingEngine>, x: tf.Tensor) {
    const backend = this.state.tensorInfo?.get(x.dataId as object)?.backend;
    if (x.dtype === 'string' || typeof backend?.incRef !== 'function') return original.call(this, x);
    backend.incRef(x.dataId as object);
    return this.makeTensorFromTensorInfo({ dataId: x.dataId as object, shape: x.shape, dtype: x.dtype });
  };
  try {
    return f();
  } finally {
    delete engine.clone;
  }
}
