import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { optionsSchema, parseOptions } from '../options';
import { FUSED_UPDATE_KERNELS, runFusedUpdate } from './fusedUpdate';
import { StatefulOptimizer } from './optimizer';

/** Options of {@link rmsprop}. */
export interface RmspropOptions {
  /** Step size. Default 1e-2 (as `torch.optim.RMSprop`). */
  readonly learningRate?: number;
  /** Decay of the mean square `alpha`. Default 0.99. */
  readonly rho?: number;
  /** Added to the root mean square. Default 1e-8. */
  readonly epsilon?: number;
  /** Momentum of the update. Default 0. */
  readonly momentum?: number;
  /** L2 weight decay added to the gradient. Default 0. */
  readonly weightDecay?: number;
}

/** Schema of {@link RmspropOptions}. */
export const rmspropSchema = optionsSchema<RmspropOptions>()({
  learningRate: z.number().finite().nonnegative().default(1e-2),
  rho: z.number().finite().min(0).lt(1).default(0.99),
  epsilon: z.number().finite().positive().default(1e-8),
  momentum: z.number().finite().min(0).lt(1).default(0),
  weightDecay: z.number().finite().nonnegative().default(0),
});

/**
 * RMSprop (Hinton's lecture 6e) in the form of `torch.optim.RMSprop` (not centred):
 * `g += wd w`, `s = rho s + (1 - rho) g^2`, `u = g / (sqrt(s) + eps)`,
 * then `b = mu b + u`, `w -= lr b` (or `w -= lr u` without momentum).
 */
export class Rmsprop extends StatefulOptimizer {
  static className = 'kd.Rmsprop';
  readonly slotNames: readonly string[];
  readonly rho: number;
  readonly epsilon: number;
  readonly momentum: number;
  readonly weightDecay: number;

  constructor(options: Required<RmspropOptions>) {
    super(options.learningRate);
    this.rho = options.rho;
    this.epsilon = options.epsilon;
    this.momentum = options.momentum;
    this.weightDecay = options.weightDecay;
    this.slotNames = this.momentum > 0 ? ['square', 'momentum'] : ['square'];
  }

  protected update(variable: tf.Variable, gradient: tf.Tensor, [square, buffer]: readonly tf.Variable[], _step: number): void {
    const fused = runFusedUpdate(
      FUSED_UPDATE_KERNELS.rmsprop,
      { variable, gradient, square: square!, ...(buffer ? { buffer } : {}) },
      { learningRate: this.learningRate, rho: this.rho, epsilon: this.epsilon, momentum: this.momentum, weightDecay: this.weightDecay },
    );
    if (fused) {
      square!.assign(fused[1]!);
      if (buffer) buffer.assign(fused[2]!);
      variable.assign(fused[0]!);
      return;
    }
    const g = this.weightDecay > 0 ? tf.add(gradient, tf.mul(variable, this.weightDecay)) : gradient;
    const nextSquare = tf.add(tf.mul(square!, this.rho), tf.mul(tf.square(g), 1 - this.rho));
    square!.assign(nextSquare);
    let direction = tf.div(g, tf.add(tf.sqrt(nextSquare), this.epsilon));
    if (buffer) {
      direction = tf.add(tf.mul(buffer, this.momentum), direction);
      buffer.assign(direction);
    }
    variable.assign(tf.sub(variable, tf.mul(direction, this.learningRate)));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      learningRate: this.learningRate,
      rho: this.rho,
      epsilon: this.epsilon,
      momentum: this.momentum,
      weightDecay: this.weightDecay,
    };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls(config as unknown as Required<RmspropOptions>);
  }
}
tf.serialization.registerClass(Rmsprop);

/** RMSprop, exactly resumable (see {@link Rmsprop}). */
export function rmsprop(options: RmspropOptions = {}): Rmsprop {
  return new Rmsprop(parseOptions(rmspropSchema, options, 'rmsprop'));
}
