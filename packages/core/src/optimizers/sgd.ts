import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { DistillationError } from '../errors';
import { optionsSchema, parseOptions } from '../options';
import { FUSED_UPDATE_KERNELS, runFusedUpdate } from './fusedUpdate';
import { StatefulOptimizer } from './optimizer';

/** Options of {@link sgd}. */
export interface SgdOptions {
  /** Step size. */
  readonly learningRate: number;
  /** Momentum `mu` (0: plain SGD). Default 0. */
  readonly momentum?: number;
  /** Nesterov momentum (needs `momentum > 0`). Default false. */
  readonly nesterov?: boolean;
  /** L2 weight decay added to the gradient (`g + wd * w`). Default 0. */
  readonly weightDecay?: number;
}

/** Schema of {@link SgdOptions}. */
export const sgdSchema = optionsSchema<SgdOptions>()({
  learningRate: z.number().finite().nonnegative(),
  momentum: z.number().finite().min(0).lt(1).default(0),
  nesterov: z.boolean().default(false),
  weightDecay: z.number().finite().nonnegative().default(0),
});

/**
 * Stochastic gradient descent with momentum and weight decay in the form of `torch.optim.SGD`
 * (dampening 0): `g += wd w`, `b = mu b + g`, `w -= lr (nesterov ? g + mu b : b)`.
 */
export class Sgd extends StatefulOptimizer {
  static className = 'kd.Sgd';
  readonly slotNames: readonly string[];
  readonly momentum: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;

  constructor(options: Required<SgdOptions>) {
    super(options.learningRate);
    this.momentum = options.momentum;
    this.nesterov = options.nesterov;
    this.weightDecay = options.weightDecay;
    this.slotNames = this.momentum > 0 ? ['momentum'] : [];
  }

  protected update(variable: tf.Variable, gradient: tf.Tensor, [buffer]: readonly tf.Variable[], _step: number): void {
    const fused = runFusedUpdate(
      FUSED_UPDATE_KERNELS.sgd,
      { variable, gradient, ...(buffer ? { buffer } : {}) },
      { learningRate: this.learningRate, momentum: this.momentum, nesterov: this.nesterov, weightDecay: this.weightDecay },
    );
    if (fused) {
      if (buffer) buffer.assign(fused[1]!);
      variable.assign(fused[0]!);
      return;
    }
    const g = this.weightDecay > 0 ? tf.add(gradient, tf.mul(variable, this.weightDecay)) : gradient;
    let direction = g;
    if (buffer) {
      const next = tf.add(tf.mul(buffer, this.momentum), g);
      buffer.assign(next);
      direction = this.nesterov ? tf.add(g, tf.mul(next, this.momentum)) : next;
    }
    variable.assign(tf.sub(variable, tf.mul(direction, this.learningRate)));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.learningRate, momentum: this.momentum, nesterov: this.nesterov, weightDecay: this.weightDecay };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls(config as unknown as Required<SgdOptions>);
  }
}
tf.serialization.registerClass(Sgd);

/** SGD with momentum and weight decay, exactly resumable (see {@link Sgd}). */
export function sgd(options: SgdOptions): Sgd {
  const parsed = parseOptions(sgdSchema, options, 'sgd');
  if (parsed.nesterov && parsed.momentum === 0) {
    throw new DistillationError('bad-option', 'sgd: option "nesterov" needs momentum > 0, got momentum 0');
  }
  return new Sgd(parsed);
}
