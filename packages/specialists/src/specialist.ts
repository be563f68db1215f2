import { DistillationError, optionsSchema, parseOptions, type TeacherLike } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { SpecialistsError } from './errors';
import { nameSchema } from './schemas';

/**
 * A specialist: a model whose logits `[batch, classes.length + 1]` cover `classes` (in that
 * order) plus a last "dustbin" output for every other class.
 */
export interface Specialist {
  /** Any teacher-like model; {@link specialistModel} builds a LayersModel one from the generalist. */
  readonly model: TeacherLike;
  /** The generalist's class indices this specialist distinguishes, in the order of its outputs. */
  readonly classes: readonly number[];
}

/** Options of {@link specialistModel}. */
export interface SpecialistModelOptions {
  /** Name of the new model. Default `<generalist name>_specialist_<classes joined by _>`. */
  readonly name?: string;
}

/** Schema of {@link SpecialistModelOptions}. */
export const specialistModelSchema = optionsSchema<SpecialistModelOptions>()({
  name: nameSchema.optional(),
});

/**
 * Checks a class subset against the number of classes (`bad-subset`: not an array, empty,
 * repeated or out-of-range classes); returns it as a plain array.
 */
export function checkSubset(subset: readonly number[], numClasses: number, what = 'subset'): number[] {
  if (!Array.isArray(subset))
    throw new SpecialistsError('bad-subset', `${what} must be an array of class indices, got ${subset === null ? 'null' : typeof subset}`);
  if (subset.length === 0) throw new SpecialistsError('bad-subset', `${what} is empty`);
  if (new Set(subset).size !== subset.length) throw new SpecialistsError('bad-subset', `${what} [${subset}] repeats a class`);
  for (const k of subset) {
    if (!Number.isInteger(k) || k < 0 || k >= numClasses) {
      throw new SpecialistsError('bad-subset', `${what} [${subset}]: class ${k} is not in [0, ${numClasses})`);
    }
  }
  return [...subset];
}

/** The last layer of a model when it is a Dense layer with a bias and linear output (logits). */
function logitsHead(model: tfl.LayersModel, where: string, what: string): tfl.layers.Layer {
  if (!(model instanceof tfl.LayersModel)) {
    throw new SpecialistsError(
      'bad-generalist',
      `${where}: the ${what} must be a tfjs LayersModel, got ${model === null ? 'null' : typeof model}`,
    );
  }
  const head = model.layers[model.layers.length - 1];
  if (head?.getClassName() !== 'Dense') {
    throw new SpecialistsError(
      'bad-generalist',
      `${where}: the ${what}'s last layer must be a Dense logits layer; it is ${head ? head.getClassName() : 'missing'}`,
    );
  }
  const config = head.getConfig();
  if (config['activation'] !== 'linear' || config['useBias'] === false) {
    throw new SpecialistsError(
      'bad-generalist',
      `${where}: the ${what}'s head "${head.name}" must output logits (linear activation, with bias); ` +
        `it has activation '${String(config['activation'])}'${config['useBias'] === false ? ' and no bias' : ''}`,
    );
  }
  if (model.outputs.length !== 1 || model.outputs[0] !== head.output) {
    throw new SpecialistsError('bad-generalist', `${where}: the ${what} must have one output, the head "${head.name}"`);
  }
  return head;
}

/**
 * Builds a specialist for `subset` from a trained generalist (a LayersModel whose last layer is
 * a Dense logits layer): a copy of the generalist (rebuilt from its config, every layer's weights
 * copied; training one does not touch the other) whose head has `subset.length + 1` outputs.
 *
 * Head initialisation, with the generalist's head kernel `W [h, C]` and bias `b [C]`:
 * - output `i < subset.length` = the generalist's column `subset[i]`: on every input the
 *   specialist's logit of a subset class equals the generalist's;
 * - the dustbin (last output) must stand for `log sum_{j in R} exp(z_j)` over the other classes
 *   R, which is not linear in the features. The linear initialisation used is its Jensen lower
 *   bound: `w_d = mean_{j in R} W[:, j]`, `b_d = mean_{j in R} b_j + log |R|`, so
 *   `z_d = mean_{j in R} z_j + log |R| <= logsumexp_{j in R} z_j`, with equality when the other
 *   classes' logits are equal. At initialisation the specialist is therefore the generalist folded
 *   onto subset + dustbin with the dustbin's mass under-estimated, never over-estimated.
 */
export function specialistModel(
  generalist: tfl.LayersModel,
  subset: readonly number[],
  input: SpecialistModelOptions = {},
): tfl.LayersModel {
  const options = parseOptions(specialistModelSchema, input, 'specialistModel');
  const head = logitsHead(generalist, 'specialistModel', 'generalist');
  const [kernel, bias] = head.getWeights() as [tf.Tensor2D, tf.Tensor1D];
  const numClasses = kernel.shape[1];
  const classes = checkSubset(subset, numClasses, 'specialistModel: subset');
  if (classes.length >= numClasses) {
    throw new SpecialistsError(
      'bad-subset',
      `specialistModel: subset [${classes}] covers all ${numClasses} classes; a specialist needs at least one class for its dustbin`,
    );
  }
  const inSubset = new Set(classes);
  const rest = Array.from({ length: numClasses }, (_, i) => i).filter((i) => !inSubset.has(i));

  const config = generalist.getConfig() as tf.serialization.ConfigDict;
  const layerConfigs = config['layers'] as tf.serialization.ConfigDict[];
  const headConfig = layerConfigs.find((l) => (l['config'] as tf.serialization.ConfigDict)['name'] === head.name);
  if (!headConfig) throw new SpecialistsError('bad-generalist', `specialistModel: head "${head.name}" not in the generalist's config`);
  (headConfig['config'] as tf.serialization.ConfigDict)['units'] = classes.length + 1;
  config['name'] = options.name ?? `${generalist.name}_specialist_${classes.join('_')}`;
  const cls = generalist instanceof tfl.Sequential ? tfl.Sequential : tfl.LayersModel;
  const model = cls.fromConfig(cls as unknown as tf.serialization.SerializableConstructor<tfl.LayersModel>, config);

  generalist.layers.forEach((layer, i) => {
    if (layer === head) return;
    const target = model.layers[i]!;
    if (target.name !== layer.name) {
      model.dispose();
      throw new SpecialistsError(
        'bad-generalist',
        `specialistModel: layer ${i} is "${target.name}" in the copy, "${layer.name}" in the generalist`,
      );
    }
    target.setWeights(layer.getWeights());
  });
  const newHead = model.layers[model.layers.length - 1]!;
  const weights = tf.tidy(() => {
    const subsetIdx = tf.tensor1d(classes, 'int32');
    const restIdx = tf.tensor1d(rest, 'int32');
    const w = tf.concat([tf.gather(kernel, subsetIdx, 1), tf.mean(tf.gather(kernel, restIdx, 1), 1, true)], 1);
    const b = tf.concat([tf.gather(bias, subsetIdx), tf.add(tf.mean(tf.gather(bias, restIdx), 0, true), Math.log(rest.length))]);
    return [w, b];
  });
  newHead.setWeights(weights);
  tf.dispose(weights);
  return model;
}

/**
 * Adds `shift` to the dustbin logit (the head bias's last entry) of a specialist built by
 * {@link specialistModel}: the oversampling correction of {@link dustbinShift}, applied once after
 * training.
 */
export function shiftDustbin(model: tfl.LayersModel, shift: number): void {
  if (typeof shift !== 'number' || !Number.isFinite(shift))
    throw new DistillationError('bad-option', `shiftDustbin: shift must be a finite number, got ${shift}`);
  const head = logitsHead(model, 'shiftDustbin', 'specialist');
  const [kernel, bias] = head.getWeights() as [tf.Tensor2D, tf.Tensor1D];
  const values = Float32Array.from(bias.dataSync());
  values[values.length - 1]! += shift;
  const shifted = tf.tensor1d(values, 'float32');
  head.setWeights([kernel, shifted]);
  shifted.dispose();
}
