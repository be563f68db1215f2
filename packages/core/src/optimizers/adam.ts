import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { optionsSchema, parseOptions } from '../options';
import { FUSED_UPDATE_KERNELS, runFusedUpdate } from './fusedUpdate';
import { StatefulOptimizer } from './optimizer';

/** Options of {@link adam}. */
export interface AdamOptions {
  /** Step size. Default 1e-3. */
  readonly learningRate?: number;
  /** Decay of the first moment. Default 0.9. */
  readonly beta1?: number;
  /** Decay of the second moment. Default 0.999. */
  readonly beta2?: number;
  /** Added to the bias-corrected root of the second moment. Default 1e-8 (as `torch.optim.Adam`). */
  readonly epsilon?: number;
}

/** Options of {@link adamW}: Adam's, plus decoupled weight decay. */
export interface AdamWOptions extends AdamOptions {
  /** Decoupled weight decay: every step multiplies each weight by `1 - learningRate * weightDecay`. Default 0.01. */
  readonly weightDecay?: number;
}

const rate = z.number().finite().nonnegative();
const beta = z.number().finite().min(0).lt(1);
const adamShape = {
  learningRate: rate.default(1e-3),
  beta1: beta.default(0.9),
  beta2: beta.default(0.999),
  epsilon: z.number().finite().positive().default(1e-8),
};
/** Schema of {@link AdamOptions}. */
export const adamSchema = optionsSchema<AdamOptions>()(adamShape);
/** Schema of {@link AdamWOptions}. */
export const adamWSchema = optionsSchema<AdamWOptions>()({ ...adamShape, weightDecay: z.number().finite().nonnegative().default(0.01) });

/**
 * Adam (Kingma & Ba 2015), and AdamW (Loshchilov & Hutter 2019) when `weightDecay > 0`, in the
 * form of `torch.optim.Adam` / `AdamW`: with `t` the step,
 * `m = b1 m + (1 - b1) g`, `v = b2 v + (1 - b2) g^2`,
 * `w -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)`, after `w *= 1 - lr * wd`.
 * The bias corrections are computed from `t` in float64 at every step, so a resumed run is exact.
 */
export class Adam extends StatefulOptimizer {
  static className = 'kd.Adam';
  readonly slotNames = ['m', 'v'] as const;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;

  constructor(options: Required<AdamWOptions>) {
    super(options.learningRate);
    this.beta1 = options.beta1;
    this.beta2 = options.beta2;
    this.epsilon = options.epsilon;
    this.weightDecay = options.weightDecay;
  }

  protected update(variable: tf.Variable, gradient: tf.Tensor, [m, v]: readonly tf.Variable[], step: number): void {
    const stepSize = this.learningRate / (1 - this.beta1 ** step);
    const correction = Math.sqrt(1 - this.beta2 ** step);
    const decay = this.weightDecay > 0 ? 1 - this.learningRate * this.weightDecay : 1;
    const fused = runFusedUpdate(
      FUSED_UPDATE_KERNELS.adam,
      { variable, gradient, m: m!, v: v! },
      { beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, stepSize, correction, decay },
    );
    if (fused) {
      m!.assign(fused[1]!);
      v!.assign(fused[2]!);
      variable.assign(fused[0]!);
      return;
    }
    const nextM = tf.add(tf.mul(m!, this.beta1), tf.mul(gradient, 1 - this.beta1));
    const nextV = tf.add(tf.mul(v!, this.beta2), tf.mul(tf.square(gradient), 1 - this.beta2));
    m!.assign(nextM);
    v!.assign(nextV);
    const denominator = tf.add(tf.div(tf.sqrt(nextV), correction), this.epsilon);
    const decayed = this.weightDecay > 0 ? tf.mul(variable, decay) : variable;
    variable.assign(tf.sub(decayed, tf.mul(tf.div(nextM, denominator), stepSize)));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, weightDecay: this.weightDecay };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls(config as unknown as Required<AdamWOptions>);
  }
}
tf.serialization.registerClass(Adam);

/** Adam with exactly resumable state (see {@link Adam}). */
export function adam(options: AdamOptions = {}): Adam {
  return new Adam({ ...parseOptions(adamSchema, options, 'adam'), weightDecay: 0 });
}

/** AdamW: Adam with decoupled weight decay, exactly resumable (see {@link Adam}). */
export function adamW(options: AdamWOptions = {}): Adam {
  return new Adam(parseOptions(adamWSchema, options, 'adamW'));
}
