import '@tensorflow/tfjs-backend-cpu';
import { type DistillationPlugin, Distiller, type LabeledData } from '@kd/core';
import { leakedTensors, maxChange, snapshot } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

await tf.setBackend('cpu');

export type { Nested } from '@kd/testing';
export {
  convNet,
  disposeData,
  finiteDifferenceRatio,
  layeredMlp as mlp,
  leakedTensors,
  maxChange,
  maxDiff,
  snapshot,
  tensorOf,
  toleranceRatio,
  toyData,
} from '@kd/testing';

/** The variables of a layer of a model. */
export const layerVariables = (model: tfl.LayersModel, layer: string): tf.Variable[] =>
  model.getLayer(layer).weights.map((w) => w.read() as tf.Variable);

/** What {@link tinyRun} measured. */
export interface TinyRunResult {
  /** The term's mean per epoch (after a first warm-up epoch). */
  readonly terms: number[];
  /** Tensors left behind by the measured epochs. */
  readonly leaked: number;
  /** Largest change of the plugin's variables over the measured epochs. */
  readonly variableChange: number;
  /** Tensors left after `distiller.dispose()` compared with before the Distiller existed. */
  readonly leftAfterDispose: number;
  /** The plugin's `state()` saved after training, restored into a fresh plugin: max |difference| (0 = bit-exact). */
  readonly roundTrip: number;
}

/**
 * A tiny Distiller run of `plugin` (after `before`, e.g. hard labels): one warm-up epoch, then
 * `epochs` measured epochs; checks the checkpoint round trip of the plugin's state through a
 * second, fresh plugin from `fresh()` set up on the same models; disposes everything it made.
 */
export async function tinyRun<S>(args: {
  readonly plugin: DistillationPlugin<S>;
  readonly fresh: () => DistillationPlugin<S>;
  readonly before?: readonly DistillationPlugin<unknown>[];
  readonly student: tfl.LayersModel;
  readonly teacher: tfl.LayersModel;
  readonly data: LabeledData;
  readonly term: string;
  readonly epochs?: number;
  readonly learningRate?: number;
  readonly batchSize?: number;
}): Promise<TinyRunResult> {
  const start = tf.memory().numTensors;
  const optimizer = tf.train.sgd(args.learningRate ?? 0.05);
  const distiller = new Distiller({ student: args.student, teacher: args.teacher, optimizer, seed: 7 });
  for (const p of args.before ?? []) distiller.use(p);
  distiller.use(args.plugin);
  const batchSize = args.batchSize ?? 8;
  await distiller.fit(args.data, { epochs: 1, batchSize });
  const slots = (distiller as unknown as { slots: { plugin: unknown; state: S }[] }).slots;
  const state = slots.find((s) => s.plugin === args.plugin)!.state;
  const variables = args.plugin.variables?.(state) ?? [];
  const initial = snapshot(variables);
  let terms: number[] = [];
  const leaked = await leakedTensors(async () => {
    const history = await distiller.fit(args.data, { epochs: args.epochs ?? 5, batchSize });
    terms = history.epochs.map((e) => e.terms[args.term]!);
  });
  const variableChange = maxChange(initial, variables);
  // Checkpoint round trip: a fresh plugin, set up on the same shapes, loads the saved state.
  const copy = args.fresh();
  const otherOptimizer = tf.train.sgd(0);
  const other = new Distiller({ student: args.student, teacher: args.teacher, optimizer: otherOptimizer, seed: 8 });
  other.use(copy);
  await other.fit(args.data, { epochs: 0, batchSize });
  const copyState = (other as unknown as { slots: { state: S }[] }).slots[0]!.state;
  const saved = args.plugin.state?.(state);
  let roundTrip = 0;
  if (saved) {
    copy.loadState!(copyState, saved);
    const again = copy.state!(copyState);
    for (const [key, value] of Object.entries(saved.tensors)) {
      const a = value.dataSync();
      const b = again.tensors[key]!.dataSync();
      if (a.length !== b.length) roundTrip = Number.POSITIVE_INFINITY;
      for (let i = 0; i < a.length; i++) roundTrip = Math.max(roundTrip, Math.abs(a[i]! - b[i]!));
    }
  }
  other.dispose();
  otherOptimizer.dispose();
  distiller.dispose();
  optimizer.dispose();
  return { terms, leaked, variableChange, leftAfterDispose: tf.memory().numTensors - start, roundTrip };
}

/**
 * A seeded convnet on `[size, size, 1]` images with a chain of conv 3x3 (same padding) layers
 * `<name>_map1, _map2, ...` (each `filters`, `strides`; linear, followed by a ReLU layer
 * `<name>_relu<i>`, so `_map<i>` is the pre-activation map), then flatten and `<name>_logits`.
 */
export function mapNet(
  size: number,
  convs: readonly { readonly filters: number; readonly strides?: number }[],
  classes: number,
  seed: number,
  name: string,
): tfl.LayersModel {
  const model = tfl.sequential({ name });
  convs.forEach((c, i) => {
    model.add(
      tfl.layers.conv2d({
        ...(i === 0 ? { inputShape: [size, size, 1] } : {}),
        filters: c.filters,
        kernelSize: 3,
        strides: c.strides ?? 1,
        padding: 'same',
        name: `${name}_map${i + 1}`,
        kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + i }),
      }),
    );
    model.add(tfl.layers.reLU({ name: `${name}_relu${i + 1}` }));
  });
  model.add(tfl.layers.flatten({ name: `${name}_flat` }));
  model.add(
    tfl.layers.dense({ units: classes, name: `${name}_logits`, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 99 }) }),
  );
  return model;
}
