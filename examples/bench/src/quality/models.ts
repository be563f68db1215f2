import { mlp as mlpOf, smallCnn } from '@kd/models';
import type * as tfl from '@tensorflow/tfjs-layers';

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
