import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { mlp, withoutNodeCrypto } from '../test/helpers';
import { modelFingerprint, tensorsFingerprint } from './fingerprints';
import { ensembleTeacher, toTeacher } from './teacher';

describe('fingerprints', () => {
  it('modelFingerprint: the same for two builds of one model, other for any changed weight, the same in Node and WebCrypto', async () => {
    const a = mlp(8, 16, 3, 10);
    const b = mlp(8, 16, 3, 10); // auto-named layers: only names differ
    const other = mlp(8, 16, 3, 11);
    const fa = await modelFingerprint(a);
    expect(fa).toMatch(/^[0-9a-f]{64}$/);
    expect(await modelFingerprint(b)).toBe(fa);
    expect(await modelFingerprint(other)).not.toBe(fa);
    expect(await withoutNodeCrypto(() => modelFingerprint(a))).toBe(fa);
    const w = a.weights[1]!;
    const old = w.read().clone();
    w.write(tf.tidy(() => tf.add(old, tf.mul(tf.reshape(tf.oneHot(tf.tensor1d([3], 'int32'), old.size), old.shape), 1e-3))));
    expect(await modelFingerprint(a)).not.toBe(fa);
    w.write(old);
    expect(await modelFingerprint(a)).toBe(fa);
    old.dispose();
    // The teacher contract exposes it: a LayersModel teacher, and an ensemble of them.
    expect(await toTeacher(a).fingerprint?.()).toBe(fa);
    const ensemble = ensembleTeacher([a, other]);
    const fe = await ensemble.fingerprint!();
    expect(fe).toMatch(/^[0-9a-f]{64}$/);
    expect(await ensembleTeacher([b, other]).fingerprint!()).toBe(fe);
    expect(await ensembleTeacher([other, a]).fingerprint!()).not.toBe(fe);
    expect(await ensembleTeacher([a, other], { mean: 'geometric' }).fingerprint!()).not.toBe(fe);
    // A function member: kd cannot see into it, so the ensemble has no fingerprint.
    expect(ensembleTeacher([a, (x: tf.Tensor) => tf.zeros([x.shape[0]!, 3])]).fingerprint).toBeUndefined();
    expect(toTeacher((x: tf.Tensor) => x).fingerprint).toBeUndefined();
    for (const m of [a, b, other]) m.dispose();
  });

  it('tensorsFingerprint: dtype, shape and values, in order', async () => {
    const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const same = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const reshaped = tf.tensor2d([1, 2, 3, 4], [1, 4]);
    const int = tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32');
    const f = await tensorsFingerprint([x]);
    expect(await tensorsFingerprint([same, undefined])).toBe(f);
    expect(await tensorsFingerprint([reshaped])).not.toBe(f);
    expect(await tensorsFingerprint([int])).not.toBe(f);
    expect(await tensorsFingerprint([x, int])).not.toBe(await tensorsFingerprint([int, x]));
    tf.dispose([x, same, reshaped, int]);
  });
});
