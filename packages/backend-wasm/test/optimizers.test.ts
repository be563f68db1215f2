import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { counts } from './helpers';

/** @kd/core's plain-op forms of the updates (see its FUSED_UPDATE_KERNELS contract). */
const plain = {
  adam(w: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, a: Record<string, number>): tf.Tensor[] {
    const m1 = tf.add(tf.mul(m, a.beta1!), tf.mul(g, 1 - a.beta1!));
    const v1 = tf.add(tf.mul(v, a.beta2!), tf.mul(tf.square(g), 1 - a.beta2!));
    const denominator = tf.add(tf.div(tf.sqrt(v1), a.correction!), a.epsilon!);
    const decayed = a.decay === 1 ? w : tf.mul(w, a.decay!);
    return [tf.sub(decayed, tf.mul(tf.div(m1, denominator), a.stepSize!)), m1, v1];
  },
  sgd(
    w: tf.Tensor,
    g0: tf.Tensor,
    b: tf.Tensor | undefined,
    a: { learningRate: number; momentum: number; nesterov: boolean; weightDecay: number },
  ) {
    const g = a.weightDecay > 0 ? tf.add(g0, tf.mul(w, a.weightDecay)) : g0;
    let direction = g;
    let next: tf.Tensor | undefined;
    if (b) {
      next = tf.add(tf.mul(b, a.momentum), g);
      direction = a.nesterov ? tf.add(g, tf.mul(next, a.momentum)) : next;
    }
    return [tf.sub(w, tf.mul(direction, a.learningRate)), ...(next ? [next] : [])];
  },
  rmsprop(
    w: tf.Tensor,
    g0: tf.Tensor,
    s: tf.Tensor,
    b: tf.Tensor | undefined,
    a: { learningRate: number; rho: number; epsilon: number; momentum: number; weightDecay: number },
  ) {
    const g = a.weightDecay > 0 ? tf.add(g0, tf.mul(w, a.weightDecay)) : g0;
    const s1 = tf.add(tf.mul(s, a.rho), tf.mul(tf.square(g), 1 - a.rho));
    let direction = tf.div(g, tf.add(tf.sqrt(s1), a.epsilon));
    if (b) direction = tf.add(tf.mul(b, a.momentum), direction);
    return [tf.sub(w, tf.mul(direction, a.learningRate)), s1, ...(b ? [direction] : [])];
  },
};

/** Largest |a - b| / max(|b|, 1e-3) over two lists of tensors. */
function relative(a: tf.Tensor[], b: tf.Tensor[]): number {
  return Math.max(
    ...a.map((t, i) => tf.tidy(() => tf.max(tf.div(tf.abs(tf.sub(t, b[i]!)), tf.maximum(tf.abs(b[i]!), 1e-3))).dataSync()[0]!)),
  );
}

/** 100 steps of a fused update and of its plain-op form on wasm, from the same start and gradients. */
function hundredSteps(
  state: number,
  step: (fused: boolean, s: tf.Tensor[], g: tf.Tensor, t: number) => tf.Tensor[],
): { fused: tf.Tensor[]; plain: tf.Tensor[]; identical: boolean } {
  tf.setBackend('wasm');
  const start = [tf.randomNormal([37, 5], 0, 1, 'float32', 1), ...Array.from({ length: state }, () => tf.zeros([37, 5]))];
  let fused = start.map((t) => t.clone());
  let plainState = start.map((t) => t.clone());
  for (let t = 1; t <= 100; t++) {
    const g = tf.randomNormal([37, 5], 0, 0.5, 'float32', 100 + t);
    const nextFused = step(true, fused, g, t);
    const nextPlain = tf.tidy(() => step(false, plainState, g, t));
    tf.dispose([...fused, ...plainState, g]);
    fused = nextFused;
    plainState = nextPlain;
  }
  tf.dispose(start);
  const identical = fused.every((t, i) => tf.tidy(() => tf.all(tf.equal(t, plainState[i]!)).dataSync()[0] === 1));
  return { fused, plain: plainState, identical };
}

describe('fused optimizer updates (KdAdamUpdate, KdSgdUpdate) on wasm', () => {
  for (const decay of [1, 1 - 1e-3 * 0.01]) {
    it(`KdAdamUpdate equals the plain-op Adam${decay === 1 ? '' : 'W'} to 1e-6 relative over 100 steps, without leaks`, () => {
      const before = counts();
      const run = hundredSteps(2, (fused, [w, m, v], g, t) => {
        const attrs = {
          beta1: 0.9,
          beta2: 0.999,
          epsilon: 1e-8,
          stepSize: 1e-3 / (1 - 0.9 ** t),
          correction: Math.sqrt(1 - 0.999 ** t),
          decay,
        };
        return fused
          ? (tf.engine().runKernel('KdAdamUpdate', { variable: w!, gradient: g, m: m!, v: v! }, attrs) as unknown as tf.Tensor[])
          : plain.adam(w!, g, m!, v!, attrs);
      });
      expect(relative(run.fused, run.plain)).toBeLessThan(1e-6);
      tf.dispose([...run.fused, ...run.plain]);
      expect(counts()).toEqual(before);
    });
  }

  for (const options of [
    { learningRate: 0.1, momentum: 0, nesterov: false, weightDecay: 0 },
    { learningRate: 0.05, momentum: 0.9, nesterov: false, weightDecay: 5e-4 },
    { learningRate: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0 },
  ]) {
    it(`KdSgdUpdate equals the plain-op SGD (momentum ${options.momentum}, nesterov ${options.nesterov}, weight decay ${options.weightDecay}) to 1e-6 relative over 100 steps`, () => {
      const before = counts();
      const run = hundredSteps(options.momentum > 0 ? 1 : 0, (fused, [w, b], g) =>
        fused
          ? (tf
              .engine()
              .runKernel('KdSgdUpdate', { variable: w!, gradient: g, ...(b ? { buffer: b } : {}) }, options) as unknown as tf.Tensor[])
          : plain.sgd(w!, g, b, options),
      );
      expect(relative(run.fused, run.plain)).toBeLessThan(1e-6);
      tf.dispose([...run.fused, ...run.plain]);
      expect(counts()).toEqual(before);
    });
  }

  for (const options of [
    { learningRate: 1e-3, rho: 0.9, epsilon: 1e-7, momentum: 0, weightDecay: 0 },
    { learningRate: 1e-3, rho: 0.99, epsilon: 1e-8, momentum: 0.9, weightDecay: 1e-4 },
  ]) {
    it(`KdRmspropUpdate equals the plain-op RMSprop (momentum ${options.momentum}, weight decay ${options.weightDecay}) to 1e-6 relative over 100 steps`, () => {
      const before = counts();
      const run = hundredSteps(options.momentum > 0 ? 2 : 1, (fused, [w, s, b], g) =>
        fused
          ? (tf
              .engine()
              .runKernel(
                'KdRmspropUpdate',
                { variable: w!, gradient: g, square: s!, ...(b ? { buffer: b } : {}) },
                options,
              ) as unknown as tf.Tensor[])
          : plain.rmsprop(w!, g, s!, b, options),
      );
      expect(relative(run.fused, run.plain)).toBeLessThan(1e-6);
      tf.dispose([...run.fused, ...run.plain]);
      expect(counts()).toEqual(before);
    });
  }
});
