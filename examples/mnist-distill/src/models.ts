import * as tfl from '@tensorflow/tfjs-layers';

/**
 * An MLP classifier for 28x28x1 images: flatten, `784 -> hidden... -> 10` (logits), with optional
 * dropout after each hidden layer.
 */
export function mlp(name: string, hidden: readonly number[], seed: number, dropout = 0): tfl.LayersModel {
  const model = tfl.sequential({ name });
  model.add(tfl.layers.flatten({ inputShape: [28, 28, 1], name: `${name}_flatten` }));
  hidden.forEach((units, i) => {
    model.add(
      tfl.layers.dense({
        units,
        activation: 'relu',
        name: `${name}_dense${i + 1}`,
        kernelInitializer: tfl.initializers.heNormal({ seed: seed + i }),
      }),
    );
    if (dropout > 0) model.add(tfl.layers.dropout({ rate: dropout, name: `${name}_dropout${i + 1}` }));
  });
  model.add(
    tfl.layers.dense({
      units: 10,
      name: `${name}_logits`,
      kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + hidden.length }),
    }),
  );
  return model;
}
