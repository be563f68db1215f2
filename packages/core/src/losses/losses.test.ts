import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import '../../test/helpers';
import type { TeacherOutputs } from '../plugin';
import { ensembleOutputs } from '../teacherOutputs';
import { hardLabelLoss } from './hardLabelLoss';
import { logitMatchingLoss } from './logitMatchingLoss';
import { softTargetLoss, softTargetLossFromLogits } from './softTargetLoss';
import { teacherLogProbabilities } from './teacherLogProbabilities';

interface Case {
  temperature: number;
  student: number[][];
  teacher: number[][];
  labels: number[];
  softTargetKL: number;
  softTargetCrossEntropy: number;
  softTargetGradient: number[][];
  hardLabel: number;
  logitMatching: number;
}
interface EnsembleCase {
  temperature: number;
  members: number[][][];
  student: number[][];
  arithmetic: { probabilities: number[][]; softTargetKL: number };
  geometric: { probabilities: number[][]; softTargetKL: number };
}
const fixture = JSON.parse(readFileSync(new URL('../../test/fixtures/hinton.json', import.meta.url), 'utf8')) as {
  cases: Case[];
  ensembles: EnsembleCase[];
};

// float32 arithmetic against float64 PyTorch: relative 1e-5 on values, absolute 1e-5 on gradients.
const close = (actual: number, expected: number, rel = 1e-5) =>
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.max(1, Math.abs(expected)));

const scalar = (t: tf.Tensor) => {
  const v = t.dataSync()[0]!;
  t.dispose();
  return v;
};

describe('Hinton losses against PyTorch golden values', () => {
  for (const c of fixture.cases) {
    it(`matches F.kl_div, cross_entropy and mse_loss at T=${c.temperature} [${c.student.length}x${c.student[0]!.length}]`, () => {
      const before = tf.memory().numTensors;
      const s = tf.tensor2d(c.student);
      const t = tf.tensor2d(c.teacher);
      const y = tf.tensor1d(c.labels, 'int32');
      close(scalar(softTargetLossFromLogits(s, t, c.temperature)), c.softTargetKL);
      close(scalar(softTargetLossFromLogits(s, t, c.temperature, 'cross-entropy')), c.softTargetCrossEntropy);
      close(scalar(hardLabelLoss(s, y)), c.hardLabel);
      close(scalar(logitMatchingLoss(s, t)), c.logitMatching);
      const grad = tf.grad((z: tf.Tensor) => softTargetLossFromLogits(z as tf.Tensor2D, t, c.temperature))(s);
      const g = grad.arraySync() as number[][];
      c.softTargetGradient.forEach((row, i) => row.forEach((v, j) => expect(Math.abs(g[i]![j]! - v)).toBeLessThan(1e-5)));
      tf.dispose([s, t, y, grad]);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  for (const e of fixture.ensembles) {
    for (const mean of ['arithmetic', 'geometric'] as const) {
      it(`combines an ensemble by the ${mean} mean at T=${e.temperature}`, () => {
        const members = tf.tensor3d(e.members);
        const student = tf.tensor2d(e.student);
        const outputs: TeacherOutputs = ensembleOutputs(members, mean, {});
        const logP = outputs.logProbabilities(e.temperature);
        // The deprecated free function gives the same values.
        const viaFunction = teacherLogProbabilities(outputs, e.temperature);
        expect(Array.from(viaFunction.dataSync())).toEqual(Array.from(logP.dataSync()));
        viaFunction.dispose();
        const p = tf.exp(logP).arraySync() as number[][];
        e[mean].probabilities.forEach((row, i) => row.forEach((v, j) => expect(Math.abs(p[i]![j]! - v)).toBeLessThan(1e-6)));
        close(scalar(softTargetLoss(student, logP, e.temperature)), e[mean].softTargetKL);
        tf.dispose([members, student, outputs.logits, logP]);
      });
    }
  }
});

describe('soft-target loss properties (docs/methods.md §2)', () => {
  it('has gradient T^2 * (q - p) / T / batch: the paper identity dC/dz = (q - p)/T', () => {
    const z = tf.tensor2d([
      [1.5, -0.3, 0.2, 2.0],
      [0.1, 0.4, -1.2, 0.0],
    ]);
    const v = tf.tensor2d([
      [0.2, 1.1, -0.5, 0.7],
      [2.0, -1.0, 0.3, 0.1],
    ]);
    for (const T of [1, 2.5, 8]) {
      const grad = tf.grad((s: tf.Tensor) => softTargetLossFromLogits(s as tf.Tensor2D, v, T))(z);
      const q = tf.softmax(tf.div(z, T));
      const p = tf.softmax(tf.div(v, T));
      // C per example has dC/dz = (q - p)/T; the loss is T^2 * mean over the batch of C.
      const expected = tf.mul(tf.div(tf.sub(q, p), T), (T * T) / 2);
      const diff = tf.max(tf.abs(tf.sub(grad, expected))).dataSync()[0]!;
      expect(diff).toBeLessThan(1e-6);
      tf.dispose([grad, q, p, expected]);
    }
    tf.dispose([z, v]);
  });

  it('agrees with central finite differences', () => {
    const z = [0.3, -1.2, 0.8, 0.05, 1.7];
    const v = tf.tensor2d([[1.0, 0.2, -0.4, 0.9, -1.1]]);
    const T = 3;
    const f = (values: number[]) => tf.tidy(() => softTargetLossFromLogits(tf.tensor2d([values]), v, T).dataSync()[0]!);
    const zt = tf.tensor2d([z]);
    const grad = tf
      .grad((s: tf.Tensor) => softTargetLossFromLogits(s as tf.Tensor2D, v, T))(zt)
      .dataSync();
    const h = 1e-2;
    z.forEach((_, i) => {
      const up = [...z];
      const down = [...z];
      up[i]! += h;
      down[i]! -= h;
      const numeric = (f(up) - f(down)) / (2 * h);
      expect(Math.abs(numeric - grad[i]!)).toBeLessThan(2e-3);
    });
    tf.dispose([v, zt]);
  });

  it('tends to half the logit-matching MSE at high temperature for zero-mean logits', () => {
    const z0 = tf.tensor2d([
      [1.5, -0.3, 0.2, 2.0, -1.0],
      [0.1, 0.4, -1.2, 0.0, 3.0],
    ]);
    const v0 = tf.tensor2d([
      [0.2, 1.1, -0.5, 0.7, 0.0],
      [2.0, -1.0, 0.3, 0.1, -2.5],
    ]);
    const z = tf.sub(z0, tf.mean(z0, 1, true)) as tf.Tensor2D;
    const v = tf.sub(v0, tf.mean(v0, 1, true)) as tf.Tensor2D;
    const halfMse = scalar(logitMatchingLoss(z, v)) / 2;
    // Relative error shrinks as T grows (~1/T^2; measured 0.080, 0.019, 0.0058, 0.0019). Beyond
    // T ~ 300 float32 cancellation in the KL dominates, so the limit is checked up to T = 100.
    const errors = [3, 10, 30, 100].map((T) => Math.abs(scalar(softTargetLossFromLogits(z, v, T)) - halfMse) / halfMse);
    for (let i = 1; i < errors.length; i++) expect(errors[i]!).toBeLessThan(errors[i - 1]! / 2);
    expect(errors[3]!).toBeLessThan(3e-3);
    // Gradients converge too: T^2 dC/dz -> (z - v) / (N * batch).
    const grad = tf.grad((s: tf.Tensor) => softTargetLossFromLogits(s as tf.Tensor2D, v, 100))(z);
    const limit = tf.div(tf.sub(z, v), 5 * 2);
    expect(tf.max(tf.abs(tf.sub(grad, limit))).dataSync()[0]!).toBeLessThan(5e-3);
    tf.dispose([z0, v0, z, v, grad, limit]);
  });

  it('rejects bad temperatures and mismatched class counts', () => {
    const a = tf.zeros([2, 3]) as tf.Tensor2D;
    const b = tf.zeros([2, 4]) as tf.Tensor2D;
    expect(() => softTargetLossFromLogits(a, a, 0)).toThrow(/temperature must be/);
    expect(() => softTargetLossFromLogits(a, b, 2)).toThrow(/same number of classes/);
    expect(() => logitMatchingLoss(tf.zeros([2]) as unknown as tf.Tensor2D, a)).toThrow(/2-D/);
    tf.dispose([a, b]);
  });
});
