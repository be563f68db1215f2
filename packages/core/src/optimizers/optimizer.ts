import * as tf from '@tensorflow/tfjs-core';
import { DistillationError } from '../errors';

/** A named tensor, as `tf.Optimizer.getWeights` returns them. */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** One variable's optimizer state: its own step count (as torch.optim keeps) and its slots. */
interface VariableState {
  step: number;
  readonly slots: tf.Variable[];
}

/**
 * Base of kd's optimizers: a `tf.Optimizer` whose whole state can be saved and restored exactly,
 * so a run resumed from a checkpoint takes bit-identical steps to one that was never interrupted.
 * Each variable has its own state, keyed by the variable (not by the order of gradients): its
 * step count (a variable first trained at step 100, after being frozen, starts its bias
 * correction at 1, as in torch.optim) and its slot variables (Adam's `m` and `v`). Nothing is
 * derived by repeated multiplication (tfjs' Adam keeps `beta^t` that way and recomputes it
 * differently on restore).
 *
 * The Distiller saves and restores the state in the order of its own variable list
 * ({@link saveState} / {@link restoreState}), so variable names need not match across processes.
 * `getWeights` / `setWeights` (the tf.Optimizer API) key the state by variable name.
 */
export abstract class StatefulOptimizer extends tf.Optimizer {
  /** Step size; the Distiller's schedules set it before every step. */
  learningRate: number;
  /** Names of the per-variable slots, e.g. `['m', 'v']`. */
  abstract readonly slotNames: readonly string[];
  private states = new Map<string, VariableState>();
  private disposed = false;

  protected constructor(learningRate: number) {
    super();
    this.learningRate = learningRate;
  }

  /**
   * Updates `variable` in place from `gradient` and its `slots` (assign new values to both).
   * Runs inside `tf.tidy`; `step` is the 1-based number of this variable's update.
   */
  protected abstract update(variable: tf.Variable, gradient: tf.Tensor, slots: readonly tf.Variable[], step: number): void;

  /** The hyper-parameters that must match for a checkpoint to resume exactly (not the rate, which schedules change). */
  settings(): Record<string, number | boolean> {
    const { learningRate: _, ...rest } = this.getConfig() as Record<string, number | boolean>;
    return rest;
  }

  /** Sets the step size (what `Distiller`'s learning-rate schedules call). */
  setLearningRate(rate: number): void {
    this.learningRate = rate;
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    if (this.disposed) throw new DistillationError('disposed', `${this.getClassName()}: applyGradients after dispose()`);
    const list = Array.isArray(variableGradients)
      ? variableGradients
      : Object.keys(variableGradients).map((name) => ({ name, tensor: variableGradients[name]! }));
    tf.tidy(() => {
      for (const { name, tensor: gradient } of list) {
        if (gradient == null) continue;
        const variable = tf.engine().registeredVariables[name];
        if (!variable) throw new DistillationError('bad-optimizer', `${this.getClassName()}: no variable named "${name}"`);
        const state = this.stateOf(variable);
        state.step++;
        this.update(variable, gradient, state.slots, state.step);
      }
    });
    this.incrementIterations();
  }

  /**
   * The state of `variables`, in their order: per variable its step count (an int32 scalar) and
   * its slots (zeros for a variable not trained yet). Variables are the optimizer's own slot
   * variables; dispose only the tensors that are not `tf.Variable`s.
   */
  saveState(variables: readonly tf.Variable[]): NamedTensor[] {
    return variables.flatMap((variable, i) => {
      const state = this.states.get(variable.name);
      const slots = state?.slots ?? this.slotNames.map(() => tf.zerosLike(variable));
      return [
        { name: `${i}/step`, tensor: tf.scalar(state?.step ?? 0, 'int32') },
        ...slots.map((slot, j) => ({ name: `${i}/${this.slotNames[j]}`, tensor: slot })),
      ];
    });
  }

  /**
   * Why saved state (from {@link saveState}) cannot be restored for `variables`, or undefined
   * when it can: one step count and every slot per variable, each of the variable's shape.
   */
  stateMismatch(saved: readonly { readonly shape: readonly number[] }[], variables: readonly tf.Variable[]): string | undefined {
    const width = 1 + this.slotNames.length;
    if (saved.length !== width * variables.length) {
      const count = saved.length % width === 0 ? `${saved.length / width} variables` : `${saved.length} tensors`;
      return `the checkpoint holds the optimizer state of ${count} ([step, ${this.slotNames.join(', ')}] each), this run trains ${variables.length} variables`;
    }
    for (let i = 0; i < saved.length; i++) {
      const variable = variables[Math.floor(i / width)]!;
      const expected = i % width === 0 ? [] : variable.shape;
      const shape = saved[i]!.shape;
      if (shape.length !== expected.length || shape.some((d, k) => d !== expected[k])) {
        return `optimizer state ${i} has shape [${shape}], variable "${variable.name}" needs [${expected}]`;
      }
    }
    return undefined;
  }

  /**
   * Restores {@link saveState}'s output for `variables` (same order), after the step count of
   * the whole optimizer. Copies: the caller keeps (and disposes) the given tensors.
   */
  restoreState(iterations: number, saved: readonly tf.Tensor[], variables: readonly tf.Variable[]): void {
    const problem = this.stateMismatch(saved, variables);
    if (problem) throw new DistillationError('checkpoint-mismatch', `${this.getClassName()}: ${problem}`);
    this.disposeStates();
    const width = 1 + this.slotNames.length;
    variables.forEach((variable, i) => {
      const step = saved[i * width]!.dataSync()[0]!;
      const slots = saved.slice(i * width + 1, (i + 1) * width).map((t) => tf.variable(t, false));
      this.states.set(variable.name, { step, slots });
    });
    this.iterations_ = iterations;
  }

  /** The step count, then every trained variable's state, named `<variable>/step`, `<variable>/<slot>`. */
  override async getWeights(): Promise<NamedTensor[]> {
    const weights: NamedTensor[] = [await this.saveIterations()];
    for (const [name, state] of this.states) {
      weights.push({ name: `${name}/step`, tensor: tf.scalar(state.step, 'int32') });
      state.slots.forEach((slot, j) => weights.push({ name: `${name}/${this.slotNames[j]}`, tensor: slot }));
    }
    return weights;
  }

  /** Restores {@link getWeights}' output (by variable name). Copies: the caller keeps the tensors. */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    const width = 1 + this.slotNames.length;
    if (rest.length % width !== 0) {
      throw new DistillationError(
        'checkpoint-mismatch',
        `${this.getClassName()}: ${rest.length} saved tensors do not divide into [step, ${this.slotNames}] per variable`,
      );
    }
    this.disposeStates();
    for (let i = 0; i < rest.length; i += width) {
      const name = rest[i]!.name.replace(/\/step$/, '');
      this.states.set(name, {
        step: (await rest[i]!.tensor.data())[0]!,
        slots: rest.slice(i + 1, i + width).map((w) => tf.variable(w.tensor, false)),
      });
    }
  }

  override dispose(): void {
    this.disposeStates();
    this.disposed = true;
    super.dispose();
  }

  private stateOf(variable: tf.Variable): VariableState {
    let state = this.states.get(variable.name);
    if (!state) {
      state = { step: 0, slots: this.slotNames.map(() => tf.keep(tf.variable(tf.zerosLike(variable), false))) };
      this.states.set(variable.name, state);
    }
    return state;
  }

  private disposeStates(): void {
    for (const state of this.states.values()) tf.dispose(state.slots);
    this.states.clear();
  }
}

/**
 * Whether `optimizer` is one of kd's {@link StatefulOptimizer}s (across package copies). Not
 * `instanceof`: `tf.Optimizer` defines `Symbol.hasInstance` so that every optimizer passes it.
 */
export function isStatefulOptimizer(optimizer: unknown): optimizer is StatefulOptimizer {
  return typeof (optimizer as StatefulOptimizer | null)?.restoreState === 'function';
}
