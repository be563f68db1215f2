import { fileSystem } from '@kd/core/node';
import { toHalf } from '@kd/teacher-store';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { CliError } from '../errors';

/** A weight form of the exported student. */
export type WeightForm = 'float32' | 'float16' | 'uint8';

/** Artifacts of a model, as `model.save` hands them to a handler. */
async function artifactsOf(model: tfl.LayersModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return saved!;
}

/**
 * The weights the uint8 form keeps in float32 by default: batch-norm moving variances. They are
 * a few numbers per layer, and a variance near 0 that 8 bits round to 0 (or to a step of the
 * tensor's range) changes `1 / sqrt(variance + epsilon)` by orders of magnitude.
 */
export const DEFAULT_KEEP_FLOAT32: readonly string[] = ['moving_variance'];

/** Whether weight `name` is matched by `entry`: equal to it, or ending with `/<entry>`. */
export function matchesWeight(name: string, entry: string): boolean {
  return name === entry || name.endsWith(`/${entry}`);
}

/** Options of {@link quantizeArtifacts}. */
export interface QuantizeOptions {
  /**
   * Weights kept in float32, by name or trailing name segments (`moving_variance` matches
   * `student_bn1/moving_variance`, `bn1/gamma` matches `student_bn1/gamma`). Default
   * {@link DEFAULT_KEEP_FLOAT32}. A list given here must match: an entry that matches no weight
   * is `bad-config` (a misspelt name would otherwise quantise what it meant to keep).
   */
  readonly keepFloat32?: readonly string[];
}

/**
 * The weights of `artifacts` in `form`, with the manifest's `quantization` fields tfjs reads
 * back (`tf.loadLayersModel` dequantises on load): `float16` keeps IEEE half precision;
 * `uint8` maps each tensor affinely to 0..255 (`value = min + scale * q`, per tensor). Only
 * float32 weights are quantised, except those `keepFloat32` names; others are copied.
 */
export function quantizeArtifacts(
  artifacts: tf.io.ModelArtifacts,
  form: Exclude<WeightForm, 'float32'>,
  options: QuantizeOptions = {},
): tf.io.ModelArtifacts {
  const specs = artifacts.weightSpecs ?? [];
  const keep = options.keepFloat32 ?? DEFAULT_KEEP_FLOAT32;
  if (options.keepFloat32) {
    for (const entry of options.keepFloat32) {
      if (!specs.some((spec) => matchesWeight(spec.name, entry))) {
        throw new CliError(
          'bad-config',
          `export.keepFloat32: "${entry}" matches no weight of the student (weights: ${specs.map((w) => w.name).join(', ')})`,
        );
      }
    }
  }
  const data = tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? new ArrayBuffer(0));
  const out: Uint8Array[] = [];
  const outSpecs: tf.io.WeightsManifestEntry[] = [];
  let offset = 0;
  for (const spec of specs) {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const bytes = count * (spec.dtype === 'float32' || spec.dtype === 'int32' ? 4 : 1);
    const slice = data.slice(offset, offset + bytes);
    offset += bytes;
    if (spec.dtype !== 'float32' || spec.quantization || keep.some((entry) => matchesWeight(spec.name, entry))) {
      out.push(new Uint8Array(slice));
      outSpecs.push(spec);
      continue;
    }
    const values = new Float32Array(slice);
    if (form === 'float16') {
      const half = new Uint16Array(count);
      for (let i = 0; i < count; i++) {
        const v = values[i]!;
        if (!(Math.abs(v) <= 65504)) {
          throw new CliError(
            'bad-config',
            `export.quantize: weight ${spec.name}[${i}] = ${v} is beyond float16's range (|v| <= 65504); leave float16 out of export.quantize`,
          );
        }
        half[i] = toHalf(v, `export float16: weight ${spec.name}[${i}]`);
      }
      out.push(new Uint8Array(half.buffer));
      outSpecs.push({ ...spec, quantization: { dtype: 'float16' } });
    } else {
      let min = Number.POSITIVE_INFINITY;
      let max = Number.NEGATIVE_INFINITY;
      for (const v of values) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
      if (count === 0) min = max = 0;
      const scale = max > min ? (max - min) / 255 : 1;
      // Nudged as tfjs-converter does, so that 0 (zero biases, ReLU outputs) is exactly representable:
      // the error stays <= scale / 2 (a value is either rounded or, at an edge, clipped by < scale / 2).
      if (min < 0 && max > 0) min = -Math.round(-min / scale) * scale;
      const q = new Uint8Array(count);
      for (let i = 0; i < count; i++) q[i] = Math.min(255, Math.max(0, Math.round((values[i]! - min) / scale)));
      out.push(q);
      outSpecs.push({ ...spec, quantization: { dtype: 'uint8', scale, min } });
    }
  }
  const total = out.reduce((n, part) => n + part.byteLength, 0);
  const joined = new Uint8Array(total);
  let at = 0;
  for (const part of out) {
    joined.set(part, at);
    at += part.byteLength;
  }
  return { ...artifacts, weightSpecs: outSpecs, weightData: joined.buffer };
}

/** Saves `model` to `directory` in `form` (see {@link quantizeArtifacts}); returns the bytes of its weights. */
export async function exportStudent(
  model: tfl.LayersModel,
  directory: string,
  form: WeightForm,
  options: QuantizeOptions = {},
): Promise<number> {
  const artifacts = await artifactsOf(model);
  const saved = form === 'float32' ? artifacts : quantizeArtifacts(artifacts, form, options);
  await fileSystem(directory).save!(saved);
  return tf.io.CompositeArrayBuffer.join(saved.weightData ?? new ArrayBuffer(0)).byteLength;
}
