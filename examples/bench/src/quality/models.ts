import * as tfl from '@tensorflow/tfjs-layers';

/**
 * The benchmark's architectures (the PyTorch peer, `src/peer/peer.py`, builds the same ones).
 * Layer names are the taps used by CRD (`*_pool`: the penultimate vector) and FitNet
 * (`*_block2`: the second conv block's pooled map, `*_hidden`: the MLP's first layer).
 */

const he = (seed: number) => tfl.initializers.heNormal({ seed });

/** conv(3x3, c1) - relu - maxpool2 - conv(3x3, c2) - relu - maxpool2 - flatten - dense(d) - relu - dense(10). */
export function cnn(
  name: string,
  c1: number,
  c2: number,
  dense: number,
  seed: number,
  inputShape: readonly number[] = [28, 28, 1],
): tfl.LayersModel {
  return tfl.sequential({
    name,
    layers: [
      tfl.layers.conv2d({
        inputShape: [...inputShape],
        filters: c1,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: he(seed),
        name: `${name}_conv1`,
      }),
      tfl.layers.maxPooling2d({ poolSize: 2, name: `${name}_block1` }),
      tfl.layers.conv2d({
        filters: c2,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: he(seed + 1),
        name: `${name}_conv2`,
      }),
      tfl.layers.maxPooling2d({ poolSize: 2, name: `${name}_block2` }),
      tfl.layers.flatten({ name: `${name}_flatten` }),
      tfl.layers.dense({ units: dense, activation: 'relu', kernelInitializer: he(seed + 2), name: `${name}_pool` }),
      tfl.layers.dense({ units: 10, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 3 }), name: `${name}_logits` }),
    ],
  });
}

/** flatten - dense(h1) - relu - dense(h2) - relu - dense(10). */
export function mlp(name: string, h1: number, h2: number, seed: number): tfl.LayersModel {
  return tfl.sequential({
    name,
    layers: [
      tfl.layers.flatten({ inputShape: [28, 28, 1], name: `${name}_flatten` }),
      tfl.layers.dense({ units: h1, activation: 'relu', kernelInitializer: he(seed), name: `${name}_hidden` }),
      tfl.layers.dense({ units: h2, activation: 'relu', kernelInitializer: he(seed + 1), name: `${name}_pool` }),
      tfl.layers.dense({ units: 10, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 2 }), name: `${name}_logits` }),
    ],
  });
}

/** Sizes of the models; the teacher is the conv32-conv64 + dense. */
export interface ModelSizes {
  readonly teacher: readonly [number, number, number];
  readonly cnnStudent: readonly [number, number, number];
  readonly mlpStudent: readonly [number, number];
}

export const FULL_SIZES: ModelSizes = { teacher: [32, 64, 128], cnnStudent: [8, 16, 32], mlpStudent: [64, 32] };
export const QUICK_SIZES: ModelSizes = { teacher: [8, 16, 32], cnnStudent: [4, 8, 16], mlpStudent: [32, 16] };
