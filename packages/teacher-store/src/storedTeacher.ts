import type { ExampleId, Teacher, TeacherPrediction } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { TeacherStoreError } from './errors';
import type { StoreManifest } from './manifest';
import { type ShardRows, tapWidth } from './shard';

/** A teacher whose outputs come from a store; `manifest` says what they are. */
export interface StoredTeacher extends Teacher {
  readonly manifest: StoreManifest;
  /** Always true: outputs were computed ahead, for untransformed inputs. */
  readonly precomputed: true;
}

/**
 * A {@link Teacher} over decoded shards (browser-safe; `storedTeacher(dir)` of
 * `@kd/teacher-store/node` reads them from disk). It never runs a model: `predict(x, { ids })`
 * gathers each id's logits (and tapped layers) in batch order, and refuses an id the store does
 * not hold (`store-missing-id`). It declares `numClasses`, so nothing probes it.
 */
export function teacherFromShards(manifest: StoreManifest, shards: readonly ShardRows[], description: string): StoredTeacher {
  const row = new Map<ExampleId, { shard: number; row: number }>();
  shards.forEach((shard, s) => shard.ids.forEach((id, r) => row.set(id, { shard: s, row: r })));
  let tapped: string[] = [];
  const gather = (values: (s: ShardRows) => Float32Array, width: number, ids: readonly ExampleId[]): Float32Array => {
    const out = new Float32Array(ids.length * width);
    ids.forEach((id, i) => {
      const at = row.get(id);
      if (!at) {
        throw new TeacherStoreError(
          'store-missing-id',
          `${description}: example ${JSON.stringify(id)} is not in the store (it holds the ${manifest.source.size} examples of ${manifest.source.description})`,
        );
      }
      out.set(values(shards[at.shard]!).subarray(at.row * width, (at.row + 1) * width), i * width);
    });
    return out;
  };
  return {
    kind: 'kd-teacher',
    description,
    manifest,
    precomputed: true,
    numClasses: manifest.numClasses,
    tap(names) {
      const unknown = names.filter((n) => !(n in manifest.taps));
      if (unknown.length > 0) {
        throw new TeacherStoreError(
          'store-unknown-tap',
          `${description}: the store recorded taps [${Object.keys(manifest.taps).join(', ')}], not [${unknown.join(', ')}]; precompute the teacher with those taps`,
        );
      }
      tapped = [...names];
      return Object.fromEntries(names.map((n) => [n, manifest.taps[n]!]));
    },
    predict(x, batch): TeacherPrediction {
      const ids = batch?.ids ?? [];
      if (ids.length !== x.shape[0]) {
        throw new TeacherStoreError(
          'store-missing-id',
          `${description}: a batch of ${x.shape[0]} rows came with ${ids.length} ids; a stored teacher looks outputs up by id`,
        );
      }
      const logits = tf.tensor2d(
        gather((s) => s.logits, manifest.numClasses, ids),
        [ids.length, manifest.numClasses],
      );
      const features: Record<string, tf.Tensor> = {};
      for (const name of tapped) {
        const shape = manifest.taps[name]!;
        features[name] = tf.tensor(
          gather((s) => s.taps[name]!, tapWidth(shape), ids),
          [ids.length, ...(shape.slice(1) as number[])],
        );
      }
      return { logits, features };
    },
  };
}
