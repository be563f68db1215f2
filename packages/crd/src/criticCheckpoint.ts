import type * as tf from '@tensorflow/tfjs-core';

/**
 * The critics' checkpoint states merged: tensors keyed `${i}/${name}` by critic index, and the
 * critics' JSON parts in order.
 */
export function mergeCriticStates<J>(critics: readonly { state(): { readonly tensors: Record<string, tf.Tensor>; readonly json: J } }[]): {
  tensors: Record<string, tf.Tensor>;
  json: J[];
} {
  const tensors: Record<string, tf.Tensor> = {};
  const json: J[] = [];
  critics.forEach((c, i) => {
    const saved = c.state();
    for (const [k, t] of Object.entries(saved.tensors)) tensors[`${i}/${k}`] = t;
    json.push(saved.json);
  });
  return { tensors, json };
}

/** Critic `i`'s tensors of a merged checkpoint (keys without the `${i}/` prefix). */
export function criticTensors(tensors: Readonly<Record<string, tf.Tensor>>, i: number): Record<string, tf.Tensor> {
  const prefix = `${i}/`;
  return Object.fromEntries(
    Object.entries(tensors)
      .filter(([k]) => k.startsWith(prefix))
      .map(([k, t]) => [k.slice(prefix.length), t]),
  );
}
