import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { leakedTensors, mlp, randomLogits, rows, take } from '../test/helpers';
import { activeSpecialists, combine, combineDistributions, foldDistribution, type SpecialistPrediction } from './combine';

/** The objective of the combination, differentiable in z (for checking the analytic gradient). */
function objective(z: tf.Tensor2D, generalistLogits: tf.Tensor2D, specs: readonly SpecialistPrediction[]): tf.Scalar {
  return tf.tidy(() => {
    const logQ = tf.logSoftmax(z);
    const pg = tf.softmax(generalistLogits);
    const batch = z.shape[0];
    let perExample = tf.sum(tf.mul(pg, tf.sub(tf.log(pg), logQ)), 1);
    const count = new Float32Array(batch).fill(1);
    for (const s of specs) {
      const mask = tf.tensor1d(Float32Array.from({ length: batch }, (_, b) => (s.active[b] ? 1 : 0)));
      Array.from(s.active).forEach((a, b) => {
        if (a) count[b]!++;
      });
      const pm = tf.softmax(s.logits);
      const r = foldDistribution(tf.exp(logQ) as tf.Tensor2D, s.classes);
      perExample = tf.add(perExample, tf.mul(mask, tf.sum(tf.mul(pm, tf.sub(tf.log(pm), tf.log(r))), 1)));
    }
    return tf.sum(tf.div(perExample, tf.tensor1d(count))) as tf.Scalar;
  });
}

describe('foldDistribution', () => {
  it('keeps the subset columns in order and sums the rest into the dustbin', async () => {
    const q = tf.softmax(randomLogits(4, 6, 1)) as tf.Tensor2D;
    let folded: number[][] = [];
    expect(
      await leakedTensors(() => {
        const f = foldDistribution(q, [4, 1]);
        folded = rows(f);
        f.dispose();
      }),
    ).toBe(0);
    const qr = rows(q);
    folded.forEach((row, b) => {
      expect(row).toHaveLength(3);
      expect(row[0]).toBeCloseTo(qr[b]![4]!, 6);
      expect(row[1]).toBeCloseTo(qr[b]![1]!, 6);
      expect(row[2]).toBeCloseTo(qr[b]![0]! + qr[b]![2]! + qr[b]![3]! + qr[b]![5]!, 6);
      expect(row[0]! + row[1]! + row[2]!).toBeCloseTo(1, 6);
    });
    q.dispose();
  });
});

describe('combineDistributions', () => {
  it.each([
    ['gradient', 2000, 2e-4],
    ['em', 200, 2e-6],
  ] as const)('one specialist: %s converges to the closed-form optimum', async (solver, steps, tolerance) => {
    const zg = randomLogits(8, 7, 2);
    const zm = randomLogits(8, 4, 3);
    const classes = [5, 0, 2];
    let out: number[][] = [];
    const leaked = await leakedTensors(() => {
      const r = combineDistributions(zg, [{ classes, logits: zm, active: new Array(8).fill(true) }], { steps, solver });
      out = take(tf.exp(r.logits));
      r.logits.dispose();
    });
    expect(leaked).toBe(0);
    const pg = rows(tf.softmax(zg));
    const pm = rows(tf.softmax(zm));
    out.forEach((q, b) => {
      const g = pg[b]!;
      const m = pm[b]!;
      const restMass = g.reduce((s, v, i) => (classes.includes(i) ? s : s + v), 0);
      const expected = g.map((v, i) =>
        classes.includes(i) ? (v + m[classes.indexOf(i)]!) / 2 : (v * (restMass + m[3]!)) / (2 * restMass),
      );
      expect(expected.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 6);
      q.forEach((v, i) => expect(Math.abs(v - expected[i]!)).toBeLessThan(tolerance));
    });
    tf.dispose([zg, zm]);
  });

  it('a specialist covering every class (empty dustbin): the arithmetic mean of the two', () => {
    const zg = randomLogits(5, 4, 4);
    // Dustbin logit -1e4: probability exactly 0 in float32, as it must be when no class is left for it.
    const zm = tf.concat([randomLogits(5, 4, 5), tf.fill([5, 1], -1e4)], 1) as tf.Tensor2D;
    const r = combineDistributions(zg, [{ classes: [3, 2, 1, 0], logits: zm, active: [1, 1, 1, 1, 1] }], { steps: 400 });
    const q = rows(tf.exp(r.logits));
    const pg = rows(tf.softmax(zg));
    const pm = rows(tf.softmax(zm));
    q.forEach((row, b) => row.forEach((v, i) => expect(Math.abs(v - (pg[b]![i]! + pm[b]![3 - i]!) / 2)).toBeLessThan(2e-4)));
    tf.dispose([zg, zm, r.logits]);
  });

  it('several overlapping specialists: analytic step = autodiff gradient; result is stationary; objective falls monotonically', () => {
    const batch = 6;
    const zg = randomLogits(batch, 8, 6);
    const specs: SpecialistPrediction[] = [
      { classes: [0, 1, 2], logits: randomLogits(batch, 4, 7), active: [1, 1, 0, 1, 0, 1] },
      { classes: [2, 3, 4, 5], logits: randomLogits(batch, 5, 8), active: [1, 0, 1, 1, 0, 1] },
      { classes: [7, 1], logits: randomLogits(batch, 3, 9), active: [1, 1, 1, 0, 0, 1] },
    ];
    // One step with lr 1 moves z by minus the (per-example normalised) gradient; gradients sum to 0 per row.
    const one = combineDistributions(zg, specs, { steps: 1, lr: 1 });
    const autodiff = tf.grad((z: tf.Tensor) => objective(z as tf.Tensor2D, zg, specs))(zg);
    const stepTaken = tf.tidy(() => {
      const z1 = tf.add(tf.sub(one.logits, tf.mean(one.logits, 1, true)), tf.mean(zg, 1, true));
      return tf.sub(zg, z1);
    });
    const a = rows(autodiff);
    rows(stepTaken).forEach((row, b) => row.forEach((v, i) => expect(Math.abs(v - a[b]![i]!)).toBeLessThan(1e-5)));

    const lg = rows(tf.logSoftmax(zg));
    const finals: number[][][] = [];
    for (const [solver, steps, tolerance] of [
      ['gradient', 2000, 1e-4],
      ['em', 300, 1e-5],
    ] as const) {
      const r = combineDistributions(zg, specs, { steps, solver, trace: true });
      const g = tf.grad((z: tf.Tensor) => objective(z as tf.Tensor2D, zg, specs))(r.logits);
      expect(tf.max(tf.abs(g)).dataSync()[0]).toBeLessThan(tolerance);
      expect(Array.from(r.activeCount)).toEqual([3, 2, 2, 2, 0, 3]);
      const trace = r.objective!;
      expect(trace).toHaveLength(steps + 1);
      for (let b = 0; b < batch; b++) {
        for (let s = 1; s < trace.length; s++) expect(trace[s]![b]!).toBeLessThanOrEqual(trace[s - 1]![b]! + 1e-6);
        if (r.activeCount[b]! > 0) expect(trace[steps]![b]!).toBeLessThan(trace[0]![b]! - 1e-3);
      }
      // Example 4 has no active specialist: exactly the generalist.
      expect(rows(r.logits)[4]).toEqual(lg[4]);
      finals.push(rows(tf.tidy(() => tf.exp(r.logits))));
      tf.dispose([r.logits, g]);
    }
    // Both solvers reach the same q.
    finals[0]!.forEach((row, b) => row.forEach((v, i) => expect(Math.abs(v - finals[1]![b]![i]!)).toBeLessThan(1e-4)));
    tf.dispose([zg, ...specs.map((s) => s.logits), one.logits, autodiff, stepTaken]);
  });
});

describe('combine', () => {
  it('with no active specialist returns exactly the generalist, and leaks nothing', async () => {
    const generalist = mlp(5, 8, 6, 1, 'g');
    const x = tf.randomNormal([16, 5], 0, 1, 'float32', 3);
    const top = Array.from(tf.argMax(generalist.predict(x) as tf.Tensor, 1).dataSync());
    const uncovered = [0, 1, 2, 3, 4, 5].filter((k) => !top.includes(k));
    expect(uncovered.length).toBeGreaterThan(0);
    const specialist = { model: (t: tf.Tensor) => tf.zeros([t.shape[0]!, uncovered.length + 1]), classes: uncovered };
    let out: number[][] = [];
    expect(
      await leakedTensors(() => {
        const q = combine(generalist, [specialist], x);
        out = rows(q);
        q.dispose();
      }),
    ).toBe(0);
    const expected = rows(tf.tidy(() => tf.logSoftmax(generalist.predict(x) as tf.Tensor)));
    expect(out).toEqual(expected);
    const none = combine(generalist, [], x);
    expect(rows(none)).toEqual(expected);
    tf.dispose([x, none]);
    generalist.dispose();
  });

  it('runs each specialist only on its active examples and matches combineDistributions', () => {
    const generalist = mlp(5, 8, 6, 2, 'g');
    const x = tf.randomNormal([20, 5], 0, 1, 'float32', 4);
    const sizes: number[] = [];
    const specModel = mlp(5, 8, 4, 9, 's');
    const specialist = {
      model: (t: tf.Tensor) => {
        sizes.push(t.shape[0]!);
        return specModel.predict(t) as tf.Tensor;
      },
      classes: [0, 1, 2],
    };
    const q = combine(generalist, [specialist], x, { topN: 2, steps: 30 });
    const zg = tf.tidy(() => generalist.predict(x) as tf.Tensor2D);
    const active = activeSpecialists(zg, [[0, 1, 2]], 2).map((f) => f[0]!);
    expect(sizes).toEqual([active.filter(Boolean).length]);
    const zm = specModel.predict(x) as tf.Tensor2D;
    const ref = combineDistributions(zg, [{ classes: [0, 1, 2], logits: zm, active }], { steps: 30 });
    const a = rows(q);
    rows(ref.logits).forEach((row, b) => row.forEach((v, i) => expect(a[b]![i]!).toBeCloseTo(v, 5)));
    tf.dispose([x, q, zg, zm, ref.logits]);
    generalist.dispose();
    specModel.dispose();
  });

  it('activeSpecialists uses the generalist top-n', () => {
    const z = tf.tensor2d([
      [3, 2, 1, 0],
      [0, 1, 2, 3],
    ]);
    expect(activeSpecialists(z, [[0], [1, 2], [3]], 1)).toEqual([
      [true, false, false],
      [false, false, true],
    ]);
    expect(activeSpecialists(z, [[0], [1, 2], [3]], 2)).toEqual([
      [true, true, false],
      [false, true, true],
    ]);
    expect(() => activeSpecialists(z, [[0]], 5)).toThrow(/topN/);
    z.dispose();
  });
});
