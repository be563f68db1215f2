import { mlp as mlpOf, smallCnn } from '@kd/models';
import * as tfl from '@tensorflow/tfjs-layers';

/**
 * The benchmark's architectures (the PyTorch peer, `src/peer/peer.py`, builds the same ones).
 * Layer names are the taps used by CRD (`*_pool`: the penultimate vector) and FitNet
 * (`*_block2`: the second conv block's pooled map, `*_hidden`: the MLP's first layer). The builders
 * are `@kd/models`' `smallCnn` and `mlp`; these keep the bench's positional signatures.
 */

/** conv(3x3, c1) - relu - maxpool2 - conv(3x3, c2) - relu - maxpool2 - flatten - dense(d) - relu - dense(10): `smallCnn` of `@kd/models`. */
export function cnn(
  name: string,
  c1: number,
  c2: number,
  dense: number,
  seed: number,
  inputShape: readonly number[] = [28, 28, 1],
): tfl.LayersModel {
  return smallCnn({ name, filters: [c1, c2], dense, seed, inputShape: inputShape as readonly [number, number, number] });
}

/** flatten - dense(h1) - relu - dense(h2) - relu - dense(10): `mlp` of `@kd/models`. */
export function mlp(name: string, h1: number, h2: number, seed: number): tfl.LayersModel {
  return mlpOf({ name, hidden: [h1, h2], seed });
}

/** Sizes of the models; the teacher is the conv32-conv64 + dense. */
export interface ModelSizes {
  readonly teacher: readonly [number, number, number];
  readonly cnnStudent: readonly [number, number, number];
  readonly mlpStudent: readonly [number, number];
}

export const FULL_SIZES: ModelSizes = { teacher: [32, 64, 128], cnnStudent: [8, 16, 32], mlpStudent: [64, 32] };
export const QUICK_SIZES: ModelSizes = { teacher: [8, 16, 32], cnnStudent: [4, 8, 16], mlpStudent: [32, 16] };

/**
 * The same network as `model` (a {@link cnn} named `name`) with each convolution's ReLU as its own
 * layer, so the PRE-activation maps can be tapped (activation boundaries, `@kd/fitnet`'s
 * `activationBoundary`): `<name>_conv1` (linear conv) - `<name>_relu1` - `<name>_block1` -
 * `<name>_conv2` (linear) - `<name>_relu2` - `<name>_block2` - flatten - `<name>_pool` -
 * `<name>_logits`. The weights are `model`'s (copied in the same order), so both compute the same
 * function: a view of a trained teacher, or a student starting from the same initialisation as
 * the bench's {@link cnn} student of its seed. `model` is left as it is (dispose it yourself).
 */
export function splitActivations(model: tfl.LayersModel, name: string): tfl.LayersModel {
  const units = (layer: string, key: 'filters' | 'units') => model.getLayer(`${name}_${layer}`).getConfig()[key] as number;
  const [h, w, c] = model.inputs[0]!.shape.slice(1) as [number, number, number];
  const split = tfl.sequential({
    name,
    layers: [
      tfl.layers.conv2d({
        inputShape: [h, w, c],
        filters: units('conv1', 'filters'),
        kernelSize: 3,
        padding: 'same',
        name: `${name}_conv1`,
      }),
      tfl.layers.reLU({ name: `${name}_relu1` }),
      tfl.layers.maxPooling2d({ poolSize: 2, name: `${name}_block1` }),
      tfl.layers.conv2d({ filters: units('conv2', 'filters'), kernelSize: 3, padding: 'same', name: `${name}_conv2` }),
      tfl.layers.reLU({ name: `${name}_relu2` }),
      tfl.layers.maxPooling2d({ poolSize: 2, name: `${name}_block2` }),
      tfl.layers.flatten({ name: `${name}_flatten` }),
      tfl.layers.dense({ units: units('pool', 'units'), activation: 'relu', name: `${name}_pool` }),
      tfl.layers.dense({ units: units('logits', 'units'), name: `${name}_logits` }),
    ],
  });
  split.setWeights(model.getWeights());
  return split;
}
