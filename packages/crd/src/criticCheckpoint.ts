import { DistillationError } from '@kd/core';
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

/** A critic's two frozen normalisers as a checkpoint holds them (null: not estimated yet). */
export interface SavedNormalisers {
  readonly zStudent: number | null;
  readonly zTeacher: number | null;
}

/**
 * The normalisers Z of a critic's checkpoint JSON: each absent / null (not estimated yet) or a
 * finite number > 0; anything else throws `checkpoint-mismatch` naming `where`. Changes nothing.
 */
export function savedNormalisers(json: unknown, where: string): SavedNormalisers {
  const saved = (json ?? {}) as Record<string, unknown>;
  if (typeof saved !== 'object') {
    throw new DistillationError('checkpoint-mismatch', `${where}: the critic's JSON state must be an object, got ${JSON.stringify(json)}`);
  }
  const z = (key: 'zStudent' | 'zTeacher'): number | null => {
    const v = saved[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new DistillationError('checkpoint-mismatch', `${where}: ${key} must be null or a finite number > 0, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  return { zStudent: z('zStudent'), zTeacher: z('zTeacher') };
}
