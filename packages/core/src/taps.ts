import type * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { DistillationError } from './errors';
import type { ModelOutputs } from './plugin';

/** Output shape of a layer with the batch dimension, e.g. `[null, 128]`. */
export type LayerShape = readonly (number | null)[];

/**
 * A LayersModel viewed with extra outputs: its logits plus the outputs of named layers,
 * built once as one multi-output model that shares the original's weights, so no layer is
 * computed twice and no model is rewritten.
 */
export class TappedModel {
  /** The multi-output view (logits first, then the taps in `tapNames` order). */
  readonly view: tfl.LayersModel;
  readonly tapNames: readonly string[];
  readonly shapes: Readonly<Record<string, LayerShape>>;

  constructor(
    readonly model: tfl.LayersModel,
    tapNames: readonly string[],
    readonly role: 'student' | 'teacher',
  ) {
    this.tapNames = [...new Set(tapNames)];
    const available = model.layers.map((l) => l.name);
    const shapes: Record<string, LayerShape> = {};
    const outputs: tfl.SymbolicTensor[] = [firstOutput(model, role)];
    for (const name of this.tapNames) {
      if (!available.includes(name)) {
        throw new DistillationError(
          'unknown-layer',
          `No layer named "${name}" in the ${role} model "${model.name}". Available layers: ${available.join(', ')}`,
        );
      }
      const output = model.getLayer(name).output;
      if (Array.isArray(output)) {
        throw new DistillationError(
          'ambiguous-layer',
          `Layer "${name}" of the ${role} has ${output.length} outputs (shared layer); tap a layer with one output.`,
        );
      }
      outputs.push(output);
      shapes[name] = output.shape;
    }
    this.shapes = shapes;
    this.view = this.tapNames.length === 0 ? model : tfl.model({ inputs: model.inputs, outputs, name: `${model.name}_tapped` });
  }

  /** Runs the view; `training` switches dropout and batch-norm statistics. */
  run(x: tf.Tensor, training: boolean): ModelOutputs {
    const result = this.view.apply(x, { training }) as tf.Tensor | tf.Tensor[];
    const list = Array.isArray(result) ? result : [result];
    const features: Record<string, tf.Tensor> = {};
    this.tapNames.forEach((name, i) => {
      features[name] = list[i + 1]!;
    });
    return { logits: list[0] as tf.Tensor2D, features };
  }

  /** The trainable variables of the underlying model (shared with the view). */
  trainableVariables(): tf.Variable[] {
    return this.model.trainableWeights.map((w) => w.read() as tf.Variable);
  }
}

function firstOutput(model: tfl.LayersModel, role: string): tfl.SymbolicTensor {
  const output = model.outputs[0];
  if (output == null) throw new DistillationError('no-output', `The ${role} model "${model.name}" has no output`);
  if (output.shape.length !== 2) {
    throw new DistillationError(
      'logits-not-2d',
      `The ${role} model "${model.name}" must output 2-D logits [batch, classes]; its first output has shape [${output.shape.map(String)}]`,
    );
  }
  return output;
}
