import {
  cachedTeacher,
  DistillationError,
  Distiller,
  type ExampleId,
  evaluateModel,
  softTargets,
  type Teacher,
  type TeacherBatch,
} from '@kd/core';
import { disposeData, toyData } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { expectRefused, leakedTensors, mlp, rowSource, take, weightsOf } from '../test/helpers';
import { activeSpecialists, combine } from './combine';
import { SpecialistEnsemble } from './ensemble';
import { generalistProbabilities } from './probabilities';

/** Largest tolerated |log q (id-keyed members) - log q (model members)|. */
const TOLERANCE = 1e-6;

/** An id-keyed test teacher and the ids of every call it got, in call order. */
interface LookupTeacher {
  readonly teacher: Teacher;
  readonly calls: ExampleId[][];
}

/**
 * A teacher that never computes: it holds `model`'s logits of every row of `x` under the id
 * `idOf(row)` and looks each batch's rows up by id, as a stored teacher does. It refuses a call
 * without ids, a batch whose ids do not name every row, an id it does not hold, and a row whose
 * input is not the one stored under its id (so the ids must follow the rows' order).
 */
function lookupTeacher(
  model: tfl.LayersModel,
  x: tf.Tensor2D,
  idOf: (row: number) => ExampleId,
  extra: { numClasses?: boolean; precomputed?: boolean } = {},
): LookupTeacher {
  const logits = take(model.predict(x) as tf.Tensor2D);
  const inputs = x.arraySync();
  const byId = new Map(logits.map((row, i) => [idOf(i), { logits: row, input: inputs[i]! }]));
  const calls: ExampleId[][] = [];
  const teacher: Teacher = {
    kind: 'kd-teacher',
    description: `lookup of ${model.name}`,
    ...(extra.numClasses ? { numClasses: logits[0]!.length } : {}),
    ...(extra.precomputed ? { precomputed: true } : {}),
    tap: () => ({}),
    predict(input: tf.Tensor, batch?: TeacherBatch) {
      if (batch === undefined) throw new DistillationError('bad-teacher', `${model.name}: called without ids`);
      calls.push([...batch.ids]);
      if (batch.ids.length !== input.shape[0]) {
        throw new DistillationError('bad-teacher', `${model.name}: ${batch.ids.length} ids for ${input.shape[0]} rows`);
      }
      const rows = input.arraySync() as number[][];
      const found = batch.ids.map((id, i) => {
        const entry = byId.get(id);
        if (!entry) throw new DistillationError('bad-teacher', `${model.name}: no logits for id ${String(id)}`);
        if (entry.input.some((v, j) => v !== rows[i]![j])) {
          throw new DistillationError('bad-teacher', `${model.name}: row ${i} is not the input of id ${String(id)}`);
        }
        return entry.logits;
      });
      return { logits: tf.tensor2d(found, [found.length, logits[0]!.length]), features: {} };
    },
  };
  return { teacher, calls };
}

/** Max |a - b| over two equally shaped nested arrays. */
function maxAbsDiff(a: number[][], b: number[][]): number {
  expect(a.length).toBe(b.length);
  return Math.max(0, ...a.flatMap((row, i) => row.map((v, j) => Math.abs(v - b[i]![j]!))));
}

/** Whether `part` is `whole` with some entries left out (same order). */
function isSubsequence(part: readonly ExampleId[], whole: readonly ExampleId[]): boolean {
  let i = 0;
  for (const id of whole) if (i < part.length && part[i] === id) i++;
  return i === part.length;
}

const SUBSETS = [
  [0, 2],
  [1, 3],
] as const;
const OPTIONS = { steps: 30, solver: 'em' } as const;

/** A generalist (6 inputs, 5 classes), two specialists on SUBSETS (3 outputs each) and 40 examples. */
function fixture() {
  const generalist = mlp(6, 12, 5, 1, 'gen');
  const specialists = SUBSETS.map((classes, m) => ({ model: mlp(6, 10, classes.length + 1, 10 + m, `spec${m}`), classes: [...classes] }));
  const data = toyData(40, 6, 5, 3);
  const x = data.x as tf.Tensor2D;
  const dispose = () => {
    generalist.dispose();
    for (const s of specialists) s.model.dispose();
    disposeData(data);
  };
  return { generalist, specialists, data, x, dispose };
}

describe('SpecialistEnsemble with id-keyed members (TeacherBatch)', () => {
  it('gives the same log q as model members, within 1e-6, for every mix of id-keyed generalist and specialists', async () => {
    const { generalist, specialists, x, dispose } = fixture();
    // The batch in a shuffled row order: ids name the rows, not their positions.
    const order = [7, 3, 39, 0, 12, 25, 5, 18, 31, 2, 9, 14, 33, 21, 1, 28, 36, 11, 4, 20];
    const ids = order.map((p) => `ex-${p}`);
    const batchX = tf.gather(x, order) as tf.Tensor2D;
    const reference = take(new SpecialistEnsemble(generalist, specialists, OPTIONS).predict(batchX).logits);
    const active = tf.tidy(() =>
      activeSpecialists(
        generalist.predict(batchX) as tf.Tensor2D,
        SUBSETS.map((s) => [...s]),
        1,
      ),
    );
    // Each specialist runs on some rows of the batch, not all: the row subsets are exercised.
    const expectedIds = SUBSETS.map((_, m) => ids.filter((_, b) => active[b]![m]));
    for (const subset of expectedIds) expect(subset.length).toBeGreaterThan(0);
    for (const subset of expectedIds) expect(subset.length).toBeLessThan(ids.length);

    for (const [keyedGeneralist, keyedSpecialists] of [
      [true, true],
      [true, false],
      [false, true],
    ] as const) {
      const g = lookupTeacher(generalist, x, (i) => `ex-${i}`);
      const s = specialists.map((sp) => lookupTeacher(sp.model, x, (i) => `ex-${i}`));
      const ensemble = new SpecialistEnsemble(
        keyedGeneralist ? g.teacher : generalist,
        specialists.map((sp, m) => ({ model: keyedSpecialists ? s[m]!.teacher : sp.model, classes: sp.classes })),
        OPTIONS,
      );
      let out: number[][] = [];
      const leaked = await leakedTensors(() => {
        out = take(ensemble.predict(batchX, { ids }).logits);
      });
      expect(leaked).toBe(0);
      expect(maxAbsDiff(out, reference), `generalist keyed ${keyedGeneralist}, specialists keyed ${keyedSpecialists}`).toBeLessThan(
        TOLERANCE,
      );
      // The generalist gets the batch's ids; each specialist those of its active rows, in row order.
      if (keyedGeneralist) expect(g.calls).toEqual([ids]);
      if (keyedSpecialists) s.forEach((member, m) => expect(member.calls).toEqual([expectedIds[m]]));
      // SpecialistEnsemble.combine and combine() forward the batch the same way.
      const counts = ensemble.combine(batchX, {}, { ids });
      expect(Array.from(counts.activeCount)).toEqual(active.map((flags) => flags.filter(Boolean).length));
      expect(maxAbsDiff(take(counts.logits), reference)).toBeLessThan(TOLERANCE);
      const members = specialists.map((sp, m) => ({ model: keyedSpecialists ? s[m]!.teacher : sp.model, classes: sp.classes }));
      const direct = take(combine(keyedGeneralist ? g.teacher : generalist, members, batchX, OPTIONS, { ids }));
      expect(maxAbsDiff(direct, reference)).toBeLessThan(TOLERANCE);
    }
    batchX.dispose();
    dispose();
  });

  it('declares numClasses without running and precomputed when any member is', () => {
    const { generalist, specialists, x, dispose } = fixture();
    const id = (i: number) => i;
    const declaringGeneralist = lookupTeacher(generalist, x, id, { numClasses: true }).teacher;
    const declaring = specialists.map((s) => ({
      model: lookupTeacher(s.model, x, id, { numClasses: true }).teacher,
      classes: s.classes,
    }));
    const stored = specialists.map((s) => ({
      model: lookupTeacher(s.model, x, id, { numClasses: true, precomputed: true }).teacher,
      classes: s.classes,
    }));
    // Model members: nothing declared, so the Distiller probes (which checks the inputs too).
    const plain = new SpecialistEnsemble(generalist, specialists);
    expect(plain.numClasses).toBeUndefined();
    expect(plain.precomputed).toBeFalsy();
    // The generalist declares its classes: so does the ensemble.
    expect(new SpecialistEnsemble(declaringGeneralist, specialists).numClasses).toBe(5);
    // Specialists that declare theirs (stored teachers) with a LayersModel generalist: its logits' width.
    const mixed = new SpecialistEnsemble(generalist, stored);
    expect(mixed.numClasses).toBe(5);
    expect(mixed.precomputed).toBe(true);
    expect(new SpecialistEnsemble(generalist, declaring).precomputed).toBeFalsy();
    const storedGeneralist = lookupTeacher(generalist, x, id, { numClasses: true, precomputed: true }).teacher;
    const both = new SpecialistEnsemble(storedGeneralist, specialists);
    expect([both.numClasses, both.precomputed]).toEqual([5, true]);
    // Nothing ran: the lookup teachers were never called.
    dispose();
  });

  it('distils and evaluates through the ids: the same student bits and evaluation as with model members', async () => {
    const { generalist, specialists, data, x, dispose } = fixture();
    const train = async (teacher: Teacher) => {
      const student = mlp(6, 8, 5, 7, 'stu');
      const optimizer = tf.train.sgd(0.1);
      const distiller = new Distiller({ teacher, student, optimizer, seed: 2, teacherCache: 'off' }).use(softTargets({ temperature: 2 }));
      await distiller.fit(data, { epochs: 2, batchSize: 8 });
      const weights = weightsOf(student);
      distiller.dispose();
      optimizer.dispose();
      student.dispose();
      return weights;
    };
    const before = tf.memory().numTensors;
    const expected = await train(new SpecialistEnsemble(generalist, specialists, OPTIONS));
    // Tensors: the Distiller's ids are positions. A precomputed generalist declares the classes, so nothing is probed.
    const g = lookupTeacher(generalist, x, (i) => i, { numClasses: true, precomputed: true });
    const s = specialists.map((sp) => lookupTeacher(sp.model, x, (i) => i));
    const keyed = new SpecialistEnsemble(
      g.teacher,
      specialists.map((sp, m) => ({ model: s[m]!.teacher, classes: sp.classes })),
      OPTIONS,
    );
    const weights = await train(keyed);
    weights.forEach((w, i) => expect(maxAbsDiff([w], [expected[i]!])).toBeLessThan(TOLERANCE));
    expect(g.calls.flat().sort((a, b) => Number(a) - Number(b))).toEqual(
      Array.from({ length: 40 }, (_, i) => [i, i]).flat(), // every example once per epoch
    );
    // Each specialist call is the ids of some of a generalist call's rows, in that call's order.
    for (const member of s) {
      expect(member.calls.length).toBeGreaterThan(0);
      let k = 0;
      for (const call of member.calls) {
        while (k < g.calls.length && !isSubsequence(call, g.calls[k]!)) k++;
        expect(k, `specialist call [${call}] is not an ordered subset of a generalist call`).toBeLessThan(g.calls.length);
      }
    }
    // evaluateModel on tensors (ids = positions) and on a source (its own ids).
    const reference = await evaluateModel(new SpecialistEnsemble(generalist, specialists, OPTIONS), data);
    const evaluated = await evaluateModel(keyed, data);
    expect(evaluated.accuracy).toBe(reference.accuracy);
    expect(evaluated.loss).toBeCloseTo(reference.loss, 6);
    const rowId = (i: number) => `row-${i}`;
    const fromSource = new SpecialistEnsemble(
      lookupTeacher(generalist, x, rowId, { numClasses: true }).teacher,
      specialists.map((sp) => ({ model: lookupTeacher(sp.model, x, rowId).teacher, classes: sp.classes })),
      OPTIONS,
    );
    const onSource = await evaluateModel(fromSource, rowSource(data));
    expect(onSource.accuracy).toBe(reference.accuracy);
    expect(onSource.loss).toBeCloseTo(reference.loss, 6);
    expect(tf.memory().numTensors).toBe(before);
    dispose();
  });

  it('leaks no tensor when an id-keyed member refuses: a missing id, no ids, ids that do not name every row', async () => {
    const { generalist, specialists, x, dispose } = fixture();
    const ids = Array.from({ length: 40 }, (_, i) => `ex-${i}`);
    const active = tf.tidy(() =>
      activeSpecialists(
        generalist.predict(x) as tf.Tensor2D,
        SUBSETS.map((s) => [...s]),
        1,
      ),
    );
    // A row in the middle of specialist 0's subset (neither its first nor its last active row).
    const rows0 = active.flatMap((flags, b) => (flags[0] ? [b] : []));
    expect(rows0.length).toBeGreaterThan(2);
    const hole = rows0[1]!;
    const keyedSpecialists = (idOf: (row: number) => ExampleId) =>
      specialists.map((sp) => ({ model: lookupTeacher(sp.model, x, idOf).teacher, classes: sp.classes }));
    const byId = (i: number) => `ex-${i}`;
    const without = (i: number) => (i === hole ? 'other' : `ex-${i}`);
    const keyed = new SpecialistEnsemble(generalist, keyedSpecialists(byId), OPTIONS);
    // A missing id: in the generalist's batch, and in a specialist's row subset.
    await expectRefused(
      () => new SpecialistEnsemble(lookupTeacher(generalist, x, without).teacher, specialists, OPTIONS).predict(x, { ids }),
      'bad-teacher',
      `gen: no logits for id ex-${hole}`,
    );
    await expectRefused(
      () => new SpecialistEnsemble(generalist, keyedSpecialists(without), OPTIONS).predict(x, { ids }),
      'bad-teacher',
      `spec0: no logits for id ex-${hole}`,
    );
    // No ids at all; ids that do not name every row (the generalist gets them as given, the specialists none).
    await expectRefused(() => keyed.predict(x), 'bad-teacher', 'spec0: called without ids');
    await expectRefused(() => keyed.predict(x, { ids: ids.slice(1) }), 'bad-teacher', `spec0: 0 ids for ${rows0.length} rows`);
    await expectRefused(() => keyed.predict(x, { ids: [] }), 'bad-teacher', `spec0: 0 ids for ${rows0.length} rows`);
    await expectRefused(
      () => new SpecialistEnsemble(lookupTeacher(generalist, x, byId).teacher, specialists).predict(x, { ids: ids.slice(1) }),
      'bad-teacher',
      'gen: 39 ids for 40 rows',
    );
    // After the refusals, the same ensemble still answers, leaving nothing behind.
    expect(await leakedTensors(() => take(keyed.predict(x, { ids }).logits))).toBe(0);
    dispose();
  });

  it('generalistProbabilities gives an id-keyed generalist the positions (tensors) or the source ids', async () => {
    const { generalist, data, x, dispose } = fixture();
    const expected = tf.tidy(() => tf.softmax(generalist.predict(x) as tf.Tensor2D).arraySync() as number[][]);
    const byPosition = lookupTeacher(generalist, x, (i) => i);
    const byRow = lookupTeacher(generalist, x, (i) => `row-${i}`);
    let fromTensors: number[][] = [];
    let fromSource: number[][] = [];
    const leaked = await leakedTensors(async () => {
      fromTensors = take(await generalistProbabilities(byPosition.teacher, x, { batchSize: 16 }));
      fromSource = take(await generalistProbabilities(byRow.teacher, rowSource(data), { batchSize: 16 }));
    });
    expect(leaked).toBe(0);
    expect(maxAbsDiff(fromTensors, expected)).toBeLessThan(TOLERANCE);
    expect(maxAbsDiff(fromSource, expected)).toBeLessThan(TOLERANCE);
    const batches = [
      Array.from({ length: 16 }, (_, i) => i),
      Array.from({ length: 16 }, (_, i) => 16 + i),
      Array.from({ length: 8 }, (_, i) => 32 + i),
    ];
    expect(byPosition.calls).toEqual(batches);
    expect(byRow.calls).toEqual(batches.map((b) => b.map((i) => `row-${i}`)));
    dispose();
  });

  it('fingerprints from its members and settings, and starts and ends cached members (a cached generalist serves later epochs)', async () => {
    const { generalist, specialists, data, x, dispose } = fixture();
    const print = await new SpecialistEnsemble(generalist, specialists, OPTIONS).fingerprint!();
    expect(print).toMatch(/^[0-9a-f]{64}$/);
    expect(await new SpecialistEnsemble(generalist, specialists, OPTIONS).fingerprint!()).toBe(print);
    expect(await new SpecialistEnsemble(generalist, specialists, { ...OPTIONS, steps: 31 }).fingerprint!()).not.toBe(print);
    const other = specialists.map((sp, m) => (m === 1 ? { ...sp, classes: [1, 4] } : sp));
    expect(await new SpecialistEnsemble(generalist, other, OPTIONS).fingerprint!()).not.toBe(print);
    // A member kd cannot see into: no fingerprint.
    expect(new SpecialistEnsemble(lookupTeacher(generalist, x, (i) => i).teacher, specialists, OPTIONS).fingerprint).toBeUndefined();

    const cached = cachedTeacher(generalist);
    const student = mlp(6, 8, 5, 7, 'stu');
    const optimizer = tf.train.sgd(0.1);
    const distiller = new Distiller({
      teacher: new SpecialistEnsemble(cached, specialists, OPTIONS),
      student,
      optimizer,
      seed: 2,
      teacherCache: 'off',
    });
    await distiller.use(softTargets({ temperature: 2 })).fit(data, { epochs: 3, batchSize: 8 });
    expect(cached.stats()).toMatchObject({ active: true, misses: 40, hits: 80, filled: 40 });
    distiller.dispose();
    optimizer.dispose();
    student.dispose();
    dispose();
  });
});
