import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { sha256Digest } from './digest';

/**
 * Hex SHA-256 of a LayersModel: its architecture (the model's JSON, with the model's and layers'
 * names replaced by their positions — tfjs numbers unnamed layers per process, so two builds of
 * one model differ in names only — and without the tfjs version and backend fields), then every
 * weight's shape, dtype and bytes in order, read with the asynchronous `data()`. Two models with
 * the same architecture and weights have the same fingerprint in any process, Node or browser.
 */
export async function modelFingerprint(model: tfl.LayersModel): Promise<string> {
  const names = new Map<string, string>([[model.name, 'model']]);
  model.layers.forEach((layer, i) => names.set(layer.name, `layer${i}`));
  const rename = (value: unknown) => (typeof value === 'string' ? (names.get(value) ?? value) : value);
  // Only the fields that hold names are renamed (a layer named "relu" must not rename an
  // activation "relu").
  const canonical = (value: unknown, key?: string): unknown => {
    if (Array.isArray(value)) {
      if (key === 'inbound_nodes' || key === 'input_layers' || key === 'output_layers') {
        const refs = (v: unknown): unknown =>
          Array.isArray(v) ? (typeof v[0] === 'string' ? [rename(v[0]), ...v.slice(1)] : v.map(refs)) : v;
        return refs(value);
      }
      return value.map((v) => canonical(v));
    }
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value)
          .filter(([k]) => k !== 'keras_version' && k !== 'backend')
          .map(([k, v]) => [k, k === 'name' ? rename(v) : canonical(v, k)]),
      );
    }
    return value;
  };
  const digest = sha256Digest().update(JSON.stringify(canonical(model.toJSON(null, false))));
  for (const w of model.weights) {
    const values = await w.read().data();
    digest.update(`\n${w.shape.join('x')}:${w.dtype}\n`).update(values);
  }
  return digest.hex();
}

/**
 * Hex SHA-256 of tensors' dtypes, shapes and values, in order (`undefined` entries are skipped),
 * read with `data()`: the content fingerprint of in-memory data.
 */
export async function tensorsFingerprint(tensors: readonly (tf.Tensor | undefined)[]): Promise<string> {
  const digest = sha256Digest();
  for (const t of tensors) {
    if (!t) continue;
    digest.update(`${t.dtype}:${t.shape.join('x')}\n`).update((await t.data()) as Float32Array | Int32Array | Uint8Array);
  }
  return digest.hex();
}
