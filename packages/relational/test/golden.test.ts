import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { correlationCongruenceLoss } from '../src/correlationCongruence';
import { EmbeddingHead } from '../src/embeddingHead';
import { conditionalProbabilities, pktLoss } from '../src/pkt';
import { normalizedDistances, rkdAngleLoss, rkdDistanceLoss, rkdLoss } from '../src/rkd';
import { similarityMatrix, similarityPreservingLoss } from '../src/similarityPreserving';
import golden from './fixtures/relational-golden.json';
import { type Nested, shapeOf, tensor, toleranceRatio } from './helpers';

/**
 * Golden values from test/fixtures/generate.py: an independent float64 PyTorch port of each
 * formula (gradients from torch autograd, each checked there against float64 central finite
 * differences). tfjs computes in float32. Tolerance: |tfjs - torch| <= 1e-6 + 1e-4 |torch| per
 * element for losses, matrices and embeddings; for gradients the relative part is taken of the
 * largest entry of the gradient tensor (small entries are differences of large terms).
 */
type PairCase = { name: string; student: Nested; teacher: Nested; loss: number; gradStudent: Nested; gradTeacher?: Nested };
type Loss = (s: tf.Tensor, t: tf.Tensor) => tf.Scalar;

/** Loss value, student gradient and (zero, or golden for CC) teacher gradient of one case; no leaks. */
function checkPairCase(c: PairCase, loss: Loss, extra?: (s: tf.Tensor, t: tf.Tensor) => void): void {
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const s = tensor(c.student);
    const t = tensor(c.teacher);
    expect(s.shape).toEqual(shapeOf(c.student));
    expect(toleranceRatio(loss(s, t).dataSync(), c.loss), 'loss').toBeLessThanOrEqual(1);
    const [gs, gt] = tf.grads((a: tf.Tensor, b: tf.Tensor) => loss(a, b))([s, t]);
    expect(toleranceRatio(gs!.dataSync(), c.gradStudent, 'tensor'), 'student gradient').toBeLessThanOrEqual(1);
    if (c.gradTeacher) {
      expect(toleranceRatio(gt!.dataSync(), c.gradTeacher, 'tensor'), 'teacher gradient').toBeLessThanOrEqual(1);
    } else {
      expect(
        Array.from(gt!.dataSync()).every((v) => v === 0),
        'the teacher receives no gradient',
      ).toBe(true);
    }
    extra?.(s, t);
  });
  expect(tf.memory().numTensors).toBe(before);
}

describe('similarityPreservingLoss vs PyTorch (RepDistiller Similarity)', () => {
  for (const c of golden.sp) {
    it(`${c.name}: row-normalised Gram matrices, loss, student gradient, no teacher gradient`, () => {
      checkPairCase(c, similarityPreservingLoss, (s, t) => {
        expect(toleranceRatio(similarityMatrix(s).dataSync(), c.studentGram)).toBeLessThanOrEqual(1);
        expect(toleranceRatio(similarityMatrix(t).dataSync(), c.teacherGram)).toBeLessThanOrEqual(1);
      });
    });
  }
});

describe('rkdLoss vs PyTorch (RepDistiller RKDLoss, 25 * distance + 50 * angle)', () => {
  for (const c of golden.rkd) {
    it(`${c.name}: both terms, their weighted sums and gradients`, () => {
      checkPairCase(
        c,
        (s, t) => rkdLoss(s, t),
        (s, t) => {
          expect(toleranceRatio(rkdDistanceLoss(s, t).dataSync(), c.distance), 'distance term').toBeLessThanOrEqual(1);
          expect(toleranceRatio(rkdAngleLoss(s, t).dataSync(), c.angle), 'angle term').toBeLessThanOrEqual(1);
          expect(toleranceRatio(normalizedDistances(s).dataSync(), c.studentDistances)).toBeLessThanOrEqual(1);
          const options = { distanceWeight: 2, angleWeight: 0.5 };
          expect(toleranceRatio(rkdLoss(s, t, options).dataSync(), c.weighted), 'other weights').toBeLessThanOrEqual(1);
          const g = tf.grad((a: tf.Tensor) => rkdLoss(a, t, options))(s);
          expect(toleranceRatio(g.dataSync(), c.weightedGradStudent, 'tensor')).toBeLessThanOrEqual(1);
          // a zero weight drops its term
          const distanceOnly = rkdLoss(s, t, { angleWeight: 0 }).dataSync()[0]!;
          expect(toleranceRatio([distanceOnly], 25 * c.distance)).toBeLessThanOrEqual(1);
        },
      );
    });
  }
});

describe("pktLoss vs PyTorch (the authors' cosine_similarity_loss)", () => {
  for (const c of golden.pkt) {
    it(`${c.name}: conditional probabilities, loss, student gradient, no teacher gradient`, () => {
      checkPairCase(c, pktLoss, (s, t) => {
        expect(toleranceRatio(conditionalProbabilities(s).dataSync(), c.studentProbabilities)).toBeLessThanOrEqual(1);
        expect(toleranceRatio(conditionalProbabilities(t).dataSync(), c.teacherProbabilities)).toBeLessThanOrEqual(1);
      });
    });
  }

  it('an all-zero student example: finite loss and the finite (order 1/eps) gradient', () => {
    const c = golden.pktZeroRow;
    checkPairCase(c, pktLoss);
  });
});

describe('correlationCongruenceLoss vs PyTorch (RepDistiller Correlation)', () => {
  for (const c of golden.cc) {
    it(`${c.name}: loss and the gradients of both embeddings`, () => {
      checkPairCase(c, correlationCongruenceLoss);
    });
  }
});

describe('CC embedding heads + loss vs PyTorch (LinearEmbed, and Embed with L2 normalisation)', () => {
  for (const c of golden.ccHeads) {
    it(`${c.name}: embeddings, loss and the gradients of every head weight and the student input`, () => {
      const before = tf.memory().numTensors;
      const size = c.embeddingSize;
      const studentHead = new EmbeddingHead(c.studentKernel.length, size, { normalize: c.normalize });
      const teacherHead = new EmbeddingHead(c.teacherKernel.length, size, { normalize: c.normalize });
      tf.tidy(() => {
        studentHead.setWeights(tensor(c.studentKernel), tensor(c.studentBias));
        teacherHead.setWeights(tensor(c.teacherKernel), tensor(c.teacherBias));
        const xs = tensor(c.student);
        const xt = tensor(c.teacher);
        expect(toleranceRatio(studentHead.apply(xs).dataSync(), c.studentEmbedding)).toBeLessThanOrEqual(1);
        expect(toleranceRatio(teacherHead.apply(xt).dataSync(), c.teacherEmbedding)).toBeLessThanOrEqual(1);
        const loss = () => correlationCongruenceLoss(studentHead.apply(xs), teacherHead.apply(xt));
        expect(toleranceRatio(loss().dataSync(), c.loss)).toBeLessThanOrEqual(1);
        const { grads } = tf.variableGrads(loss, [...studentHead.variables, ...teacherHead.variables]);
        const expected: [tf.Variable, Nested, string][] = [
          [studentHead.kernel, c.grads.studentKernel, 'student kernel'],
          [studentHead.bias, c.grads.studentBias, 'student bias'],
          [teacherHead.kernel, c.grads.teacherKernel, 'teacher kernel'],
          [teacherHead.bias, c.grads.teacherBias, 'teacher bias'],
        ];
        for (const [variable, g, what] of expected) {
          expect(toleranceRatio(grads[variable.name]!.dataSync(), g, 'tensor'), what).toBeLessThanOrEqual(1);
        }
        const gx = tf.grad((x: tf.Tensor) => correlationCongruenceLoss(studentHead.apply(x), teacherHead.apply(xt)))(xs);
        expect(toleranceRatio(gx.dataSync(), c.grads.student, 'tensor'), 'student input').toBeLessThanOrEqual(1);
      });
      studentHead.dispose();
      teacherHead.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
