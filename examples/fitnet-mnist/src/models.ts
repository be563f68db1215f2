import * as tfl from '@tensorflow/tfjs-layers';

/** An MLP on 28x28x1 images: flatten, `784 -> hidden... (relu, named <name>_dense1, _dense2 ...) -> 10` logits (`<name>_logits`). */
export function mlp(name: string, hidden: readonly number[], seed: number): tfl.LayersModel {
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
