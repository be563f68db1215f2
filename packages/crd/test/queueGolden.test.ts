import { SeededRandom } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueContrastLogits } from '../src/nce';
import { CrdQueueCritic } from '../src/queueCritic';
import { queueNegatives } from '../src/queueSampler';
import golden from './fixtures/crd-golden.json';
import { maxDiff } from './helpers';

/**
 * Queue memory against test/fixtures/generate.py (independent float64 PyTorch implementation),
 * three steps with K = 6, B = 4: the second batch brings back two examples of the first (their
 * entries are replaced among the negatives) and its enqueue wraps around the end of the queue.
 * Tolerances (tfjs computes in float32): embeddings and queue entries abs 1e-6 + rel 1e-4;
 * scores exp(s/T), T = 0.07, amplify rounding ~14x: rel 1e-4; Z and losses rel 1e-5; head gradients
 * abs 1e-6 + rel 1e-4 of the gradient's largest entry. The generator checks PyTorch's gradients
 * against central finite differences (Z frozen, positives held constant) and records the error.
 */
const cfg = golden.config;
const q = golden.queue;
const t2 = (v: number[][]) => tf.tensor2d(v, undefined, 'float32');
const close = (actual: ArrayLike<number>, expected: ArrayLike<number>, abs: number, rel: number) => {
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    worst = Math.max(worst, Math.abs(actual[i]! - e) - (abs + rel * Math.abs(e)));
  }
  return worst;
};

describe('CRD queue memory: golden values (PyTorch float64 reference)', () => {
  let critic: CrdQueueCritic;
  let startTensors: number;

  beforeAll(() => {
    startTensors = tf.memory().numTensors;
    critic = new CrdQueueCritic({
      studentDim: cfg.studentDim,
      teacherDim: cfg.teacherDim,
      dataSize: cfg.N,
      queueSize: q.size,
      featureDim: cfg.featureDim,
      temperature: cfg.temperature,
    });
    tf.tidy(() => {
      critic.studentHead.setWeights(t2(golden.studentKernel), tf.tensor1d(golden.studentBias));
      critic.teacherHead.setWeights(t2(golden.teacherKernel), tf.tensor1d(golden.teacherBias));
      critic.queue.loadState({
        student: t2(q.queueStudent),
        teacher: t2(q.queueTeacher),
        ids: new Int32Array(q.size).fill(-1),
        pointer: 0,
      });
    });
  });

  afterAll(() => {
    critic.dispose();
    expect(tf.memory().numTensors).toBe(startTensors);
  });

  it("the generator's autograd gradients agree with finite differences", () => {
    expect(q.finiteDifferenceMaxRelError).toBeLessThan(1e-5);
  });

  q.batches.forEach((batch, step) => {
    it(`step ${step}: ids and pointer, excluded entries, scores, Z, NCE loss, gradients, enqueue`, () => {
      expect(Array.from(critic.queue.ids)).toEqual(batch.idsBefore);
      expect(critic.queue.pointer).toBe(batch.pointerBefore);
      // queueNegatives replaces exactly the entries that hold an example of the batch.
      const drawn = queueNegatives(critic.queue.ids, batch.index, new SeededRandom(step), cfg.N);
      const replaced = Array.from(drawn.negatives.keys()).filter((j) => drawn.negatives[j] !== j);
      expect(replaced).toEqual(batch.replaced);
      expect(drawn.replaced).toBe(batch.replaced.length);
      for (const j of drawn.negatives) expect(batch.index).not.toContain(critic.queue.ids[j]);
      // The reference's own draw of the replacements (from the same allowed entries).
      const sample = {
        kind: 'queue' as const,
        index: Int32Array.from(batch.index),
        negatives: Int32Array.from(batch.negatives),
        replaced: 0,
      };
      for (const j of batch.replaced) expect(batch.replaced).not.toContain(batch.negatives[j]);

      const fs = t2(batch.studentFeatures);
      const ft = t2(batch.teacherFeatures);
      tf.tidy(() => {
        const vS = critic.studentHead.apply(fs);
        const vT = critic.teacherHead.apply(ft);
        for (const [anchors, positives, queue, expected] of [
          [vS, vT, critic.queue.teacher, batch.studentScores],
          [vT, vS, critic.queue.student, batch.teacherScores],
        ] as const) {
          const l = queueContrastLogits(queue, anchors, positives, sample.negatives, cfg.temperature);
          const scores = tf.exp(tf.concat([l.positive, l.negative], 1));
          expect(maxDiff(scores.dataSync(), expected).rel).toBeLessThan(1e-4);
        }
      });

      let parts: number[] = [];
      let embeddings: tf.Tensor2D[] = [];
      const { grads, value } = tf.variableGrads(() => {
        const r = critic.loss(fs, ft, sample);
        parts = [r.studentLoss.dataSync()[0]!, r.teacherLoss.dataSync()[0]!];
        embeddings = [tf.keep(r.studentEmbedding), tf.keep(r.teacherEmbedding)];
        return r.loss;
      }, critic.variables);
      expect(Math.abs(critic.zStudent! / q.zStudent - 1)).toBeLessThan(1e-5);
      expect(Math.abs(critic.zTeacher! / q.zTeacher - 1)).toBeLessThan(1e-5);
      expect(Math.abs(parts[0]! / batch.studentLoss - 1)).toBeLessThan(1e-5);
      expect(Math.abs(parts[1]! / batch.teacherLoss - 1)).toBeLessThan(1e-5);
      expect(Math.abs(value.dataSync()[0]! / batch.loss - 1)).toBeLessThan(1e-5);
      const expected = [batch.grads.studentKernel, batch.grads.studentBias, batch.grads.teacherKernel, batch.grads.teacherBias];
      critic.variables.forEach((v, i) => {
        const flat = (expected[i] as unknown[]).flat(2) as number[];
        const scale = Math.max(...flat.map(Math.abs));
        expect(close(grads[v.name]!.dataSync(), flat, 1e-6 + 1e-4 * scale, 0), v.name).toBeLessThanOrEqual(0);
      });
      tf.dispose([value, ...Object.values(grads)]);

      critic.update(sample.index, embeddings[0]!, embeddings[1]!);
      tf.dispose(embeddings);
      expect(close(critic.queue.student.dataSync(), batch.queueStudentAfter.flat(), 1e-6, 1e-4)).toBeLessThanOrEqual(0);
      expect(close(critic.queue.teacher.dataSync(), batch.queueTeacherAfter.flat(), 1e-6, 1e-4)).toBeLessThanOrEqual(0);
      expect(Array.from(critic.queue.ids)).toEqual(batch.idsAfter);
      expect(critic.queue.pointer).toBe(batch.pointerAfter);
      tf.dispose([fs, ft]);
    });
  });
});
