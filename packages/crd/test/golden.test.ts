import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrdCritic } from '../src/critic';
import { EmbedHead } from '../src/embedHead';
import { MemoryBank } from '../src/memoryBank';
import { contrastScores, nceLoss, sharedContrastScores } from '../src/nce';
import type { ContrastIndices, SharedContrastIndices } from '../src/sampler';
import golden from './fixtures/crd-golden.json';
import { maxDiff } from './helpers';

/**
 * Golden values from test/fixtures/generate.py (independent float64 PyTorch implementation).
 * Tolerances (tfjs computes in float32): embeddings, bank rows: abs 1e-5; scores exp(s/T) with
 * T = 0.07 amplify rounding ~14x: rel 1e-4; Z, losses: rel 1e-5; gradients: abs 1e-4 + rel 1e-3.
 */
const cfg = golden.config;
const t2 = (v: number[][]) => tf.tensor2d(v, undefined, 'float32');

function sampleOf(batch: (typeof golden.batches)[number]): ContrastIndices {
  return {
    kind: 'per-anchor',
    index: Int32Array.from(batch.index),
    contrast: Int32Array.from(batch.contrast.flat()),
    negatives: cfg.negatives,
  };
}

describe.each(['gather', 'dense'] as const)('CRD golden values (PyTorch float64 reference), %s scoring', (scoring) => {
  let critic: CrdCritic;
  let startTensors: number;

  beforeAll(() => {
    startTensors = tf.memory().numTensors;
    critic = new CrdCritic({
      studentDim: cfg.studentDim,
      teacherDim: cfg.teacherDim,
      dataSize: cfg.N,
      featureDim: cfg.featureDim,
      temperature: cfg.temperature,
      momentum: cfg.momentum,
      scoring,
    });
    tf.tidy(() => {
      critic.studentHead.setWeights(t2(golden.studentKernel), tf.tensor1d(golden.studentBias));
      critic.teacherHead.setWeights(t2(golden.teacherKernel), tf.tensor1d(golden.teacherBias));
      critic.bank.loadState({ student: t2(golden.bankStudent), teacher: t2(golden.bankTeacher) });
    });
  });

  afterAll(() => {
    critic.dispose();
    expect(tf.memory().numTensors).toBe(startTensors);
  });

  it('bank init scale is 1/sqrt(d/3)', () => {
    expect(MemoryBank.initScale(cfg.featureDim)).toBeCloseTo(golden.initScale, 12);
  });

  it('nceLoss matches the reference formula', () => {
    const loss = tf.tidy(() => nceLoss(t2(golden.nce.probabilities), golden.nce.dataSize).dataSync()[0]!);
    expect(Math.abs(loss - golden.nce.loss) / golden.nce.loss).toBeLessThan(1e-5);
  });

  golden.batches.forEach((batch, step) => {
    it(`batch ${step}: heads, scores (gather and dense), Z, NCE loss, gradients`, () => {
      const sample = sampleOf(batch);
      const fs = t2(batch.studentFeatures);
      const ft = t2(batch.teacherFeatures);
      tf.tidy(() => {
        const vS = critic.studentHead.apply(fs);
        const vT = critic.teacherHead.apply(ft);
        expect(maxDiff(vS.dataSync(), batch.studentEmbedding).abs).toBeLessThan(1e-5);
        expect(maxDiff(vT.dataSync(), batch.teacherEmbedding).abs).toBeLessThan(1e-5);
        for (const strategy of ['gather', 'dense'] as const) {
          const outS = contrastScores(critic.bank.teacher, vS, sample.contrast, cfg.temperature, strategy);
          const outT = contrastScores(critic.bank.student, vT, sample.contrast, cfg.temperature, strategy);
          expect(maxDiff(outS.dataSync(), batch.studentScores).rel, strategy).toBeLessThan(1e-4);
          expect(maxDiff(outT.dataSync(), batch.teacherScores).rel, strategy).toBeLessThan(1e-4);
        }
        const shared: SharedContrastIndices = {
          kind: 'shared',
          index: sample.index,
          positives: sample.index,
          shared: Int32Array.from(batch.shared.negatives),
          negatives: cfg.negatives,
        };
        const shS = sharedContrastScores(critic.bank.teacher, vS, shared.positives, shared.shared, cfg.temperature);
        const shT = sharedContrastScores(critic.bank.student, vT, shared.positives, shared.shared, cfg.temperature);
        expect(maxDiff(shS.dataSync(), batch.shared.studentScores).rel).toBeLessThan(1e-4);
        expect(maxDiff(shT.dataSync(), batch.shared.teacherScores).rel).toBeLessThan(1e-4);
      });

      // Loss (Z estimated on batch 0, frozen for batch 1) and the heads' gradients.
      let parts: number[] = [];
      const { grads, value } = tf.variableGrads(() => {
        const r = critic.loss(fs, ft, sample);
        parts = [r.studentLoss.dataSync()[0]!, r.teacherLoss.dataSync()[0]!];
        return r.loss;
      }, critic.variables);
      expect(Math.abs(critic.zStudent! / golden.zStudent - 1)).toBeLessThan(1e-5);
      expect(Math.abs(critic.zTeacher! / golden.zTeacher - 1)).toBeLessThan(1e-5);
      expect(Math.abs(parts[0]! / batch.studentLoss - 1)).toBeLessThan(1e-5);
      expect(Math.abs(parts[1]! / batch.teacherLoss - 1)).toBeLessThan(1e-5);
      expect(Math.abs(value.dataSync()[0]! / batch.loss - 1)).toBeLessThan(1e-5);
      const expected = [batch.grads.studentKernel, batch.grads.studentBias, batch.grads.teacherKernel, batch.grads.teacherBias];
      critic.variables.forEach((v, i) => {
        const g = grads[v.name]!.dataSync();
        const flat = (expected[i] as unknown[]).flat(2) as number[];
        flat.forEach((e, j) => {
          expect(Math.abs(g[j]! - e)).toBeLessThan(1e-4 + 1e-3 * Math.abs(e));
        });
      });
      tf.dispose([value, ...Object.values(grads)]);

      // Shared variant loss with the frozen Z.
      tf.tidy(() => {
        const r = critic.loss(fs, ft, {
          kind: 'shared',
          index: sample.index,
          positives: sample.index,
          shared: Int32Array.from(batch.shared.negatives),
          negatives: cfg.negatives,
        });
        expect(Math.abs(r.studentLoss.dataSync()[0]! / batch.shared.studentLoss - 1)).toBeLessThan(1e-5);
        expect(Math.abs(r.teacherLoss.dataSync()[0]! / batch.shared.teacherLoss - 1)).toBeLessThan(1e-5);
      });

      // Bank update at the batch's indices.
      tf.tidy(() => {
        const vS = critic.studentHead.apply(fs);
        const vT = critic.teacherHead.apply(ft);
        critic.update(sample.index, vS, vT);
      });
      expect(maxDiff(critic.bank.student.dataSync(), batch.bankStudentAfter).abs).toBeLessThan(1e-5);
      expect(maxDiff(critic.bank.teacher.dataSync(), batch.bankTeacherAfter).abs).toBeLessThan(1e-5);
      tf.dispose([fs, ft]);
    });
  });

  it('EmbedHead flattens higher-rank features', () => {
    const head = new EmbedHead(6, 3, { seed: 1 });
    tf.tidy(() => {
      const x = tf.randomNormal([2, 2, 3], 0, 1, 'float32', 3);
      const a = head.apply(x).dataSync();
      const b = head.apply(tf.reshape(x, [2, 6])).dataSync();
      expect(Array.from(a)).toEqual(Array.from(b));
      const norms = tf.sqrt(tf.sum(tf.square(head.apply(x)), 1)).dataSync();
      for (const n of norms) expect(n).toBeCloseTo(1, 5);
    });
    head.dispose();
  });
});
