import * as tf from '@tensorflow/tfjs-core';
import { DistillationError } from '../errors';

/** A named tensor, as `tf.Optimizer.getWeights` returns them. */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/**
 * Base of kd's optimizers: a `tf.Optimizer` whose whole state (the step count and one list of slot
 * variables per trained variable, e.g. Adam's `m` and `v`) is saved by `getWeights()` and
 * restored by `setWeights()` exactly, so a run resumed from a checkpoint takes bit-identical steps
 * to one that was never interrupted. Nothing is derived from the step count by repeated
 * multiplication (tfjs' Adam keeps `beta^t` that way and recomputes it differently on restore).
 *
 * Slots are positional, as in tfjs: the i-th gradient of every `applyGradients` call belongs to
 * the i-th variable (the Distiller always passes its variables in the same order).
 */
export abstract class StatefulOptimizer extends tf.Optimizer {
  /** Step size; the Distiller's schedules set it before every step. */
  learningRate: number;
  /** Names of the per-variable slots, e.g. `['m', 'v']`. */
  abstract readonly slotNames: readonly string[];
  private slots: tf.Variable[][] = [];
  private disposed = false;

  protected constructor(learningRate: number) {
    super();
    this.learningRate = learningRate;
  }

  /**
   * Updates `variable` in place from `gradient` and its `slots` (assign new values to both).
   * Runs inside `tf.tidy`; `step` is the 1-based number of this update.
   */
  protected abstract update(variable: tf.Variable, gradient: tf.Tensor, slots: readonly tf.Variable[], step: number): void;

  /** Sets the step size (what `Distiller`'s learning-rate schedules call). */
  setLearningRate(rate: number): void {
    this.learningRate = rate;
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    if (this.disposed) throw new DistillationError('disposed', `${this.getClassName()}: applyGradients after dispose()`);
    const list = Array.isArray(variableGradients)
      ? variableGradients
      : Object.keys(variableGradients).map((name) => ({ name, tensor: variableGradients[name]! }));
    const step = this.iterations + 1;
    tf.tidy(() => {
      list.forEach(({ name, tensor: gradient }, i) => {
        const variable = tf.engine().registeredVariables[name];
        if (!variable) throw new DistillationError('bad-optimizer', `${this.getClassName()}: no variable named "${name}"`);
        if (!this.slots[i]) {
          this.slots[i] = this.slotNames.map(() => tf.keep(tf.variable(tf.zerosLike(variable), false)));
        }
        if (gradient != null) this.update(variable, gradient, this.slots[i]!, step);
      });
    });
    this.incrementIterations();
  }

  /** The step count, then every variable's slots in order (names `<variable>/<slot>`). */
  override async getWeights(): Promise<NamedTensor[]> {
    const weights: NamedTensor[] = [await this.saveIterations()];
    this.slots.forEach((slots, i) => {
      slots.forEach((slot, j) => weights.push({ name: `${i}/${this.slotNames[j]}`, tensor: slot }));
    });
    return weights;
  }

  /**
   * Restores {@link getWeights}' output. Takes copies: the caller keeps (and disposes) the given
   * tensors.
   */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    const width = this.slotNames.length;
    if (width === 0 ? rest.length !== 0 : rest.length % width !== 0) {
      throw new DistillationError(
        'checkpoint-mismatch',
        `${this.getClassName()}: ${rest.length} saved slot tensors do not divide into [${this.slotNames}] per variable`,
      );
    }
    this.disposeSlots();
    for (let i = 0; i * width < rest.length; i++) {
      this.slots.push(rest.slice(i * width, (i + 1) * width).map((w) => tf.variable(w.tensor, false)));
    }
  }

  /**
   * Why saved slots (from {@link getWeights}, without the step count) cannot be restored for
   * `variables`, or undefined when they can: the count and every shape must match.
   */
  stateMismatch(saved: readonly { readonly shape: readonly number[] }[], variables: readonly tf.Variable[]): string | undefined {
    const width = this.slotNames.length;
    if (saved.length !== width * variables.length) {
      return `the checkpoint's optimizer has ${width ? saved.length / width : saved.length} variables' state, this run trains ${variables.length} variables`;
    }
    for (let i = 0; i < saved.length; i++) {
      const variable = variables[Math.floor(i / width)]!;
      const shape = saved[i]!.shape;
      if (shape.length !== variable.shape.length || shape.some((d, k) => d !== variable.shape[k])) {
        return `optimizer state ${i} has shape [${shape}], variable "${variable.name}" has [${variable.shape}]`;
      }
    }
    return undefined;
  }

  override dispose(): void {
    this.disposeSlots();
    this.disposed = true;
    super.dispose();
  }

  private disposeSlots(): void {
    for (const slots of this.slots) tf.dispose(slots);
    this.slots = [];
  }
}

/**
 * Whether `optimizer` is one of kd's {@link StatefulOptimizer}s (across package copies). Not
 * `instanceof`: `tf.Optimizer` defines `Symbol.hasInstance` so that every optimizer passes it.
 */
export function isStatefulOptimizer(optimizer: unknown): optimizer is StatefulOptimizer {
  return typeof (optimizer as StatefulOptimizer | null)?.stateMismatch === 'function';
}
