import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { disposeData, mlp, toyData } from '../test/helpers';
import { Distiller } from './distiller';
import { evaluateModel } from './evaluate';
import { sgd } from './optimizers/sgd';
import { definePlugin } from './plugin';
import { hardLabel } from './plugins/hardLabel';
import { softTargets } from './plugins/softTargets';
import { type ExampleId, tensorSource } from './source';
import { ensembleTeacher, type Teacher, type TeacherLike } from './teacher';

/** A teacher that never computes: it looks each example's logits up by id (what a stored teacher does). */
function lookupTeacher(
  model: TeacherLike & { predict(x: tf.Tensor): tf.Tensor | tf.Tensor[] },
  x: tf.Tensor,
  idOf: (row: number) => ExampleId,
) {
  const logits = model.predict(x) as tf.Tensor2D;
  const rows = logits.arraySync();
  logits.dispose();
  const byId = new Map(rows.map((row, i) => [idOf(i), row]));
  const seen: ExampleId[][] = [];
  const teacher: Teacher = {
    kind: 'kd-teacher',
    description: 'lookup',
    numClasses: rows[0]!.length,
    tap: () => ({}),
    predict(input, batch) {
      if (!batch) throw new Error('the lookup teacher needs the batch ids');
      seen.push([...batch.ids]);
      expect(batch.ids).toHaveLength(input.shape[0]!);
      return { logits: tf.tensor2d(batch.ids.map((id) => byId.get(id)!)), features: {} };
    },
  };
  return { teacher, seen };
}

function train(data: Parameters<Distiller['fit']>[0], teacher: TeacherLike) {
  const student = mlp(6, 10, 3, 100);
  const optimizer = sgd({ learningRate: 0.1, momentum: 0.9 });
  const distiller = new Distiller({ student, teacher, optimizer, seed: 5, teacherCache: 'off' }).use(
    hardLabel({ weight: 0.5 }),
    softTargets({ temperature: 3 }),
  );
  return distiller.fit(data, { epochs: 2, batchSize: 8 }).then(() => {
    const weights = student.getWeights().map((w) => Array.from(w.dataSync()));
    distiller.dispose();
    optimizer.dispose();
    student.dispose();
    return weights;
  });
}

describe('teachers receive the batch ids', () => {
  it('a teacher that looks outputs up by id trains to the same bits as the live teacher (tensors, sources, ensembles)', async () => {
    const data = toyData(30, 6, 3, 11);
    const live = mlp(6, 12, 3, 200);
    const other = mlp(6, 12, 3, 300);
    const before = tf.memory().numTensors;
    const expected = await train(data, live);
    // Tensors: ids are positions.
    const byPosition = lookupTeacher(live, data.x, (i) => i);
    expect(await train(data, byPosition.teacher)).toEqual(expected);
    expect(byPosition.seen.flat().sort((a, b) => Number(a) - Number(b))).toEqual([...Array.from({ length: 30 }, (_, i) => [i, i]).flat()]);
    // A source with string ids: the teacher gets those.
    const source = {
      ...tensorSource(data),
      read: (p: Int32Array) => ({ ...tensorSource(data).read(p), ids: Array.from(p, (i) => `ex-${i}`) }),
    };
    const byName = lookupTeacher(live, data.x, (i) => `ex-${i}`);
    expect(await train(source as never, byName.teacher)).toEqual(expected);
    // Ensembles pass the ids to every member.
    const ensembleExpected = await train(data, ensembleTeacher([live, other]));
    const a = lookupTeacher(live, data.x, (i) => i);
    const b = lookupTeacher(other, data.x, (i) => i);
    expect(await train(data, ensembleTeacher([a.teacher, b.teacher]))).toEqual(ensembleExpected);
    expect(a.seen).toEqual(b.seen);
    // Evaluation passes them too.
    const evaluated = await evaluateModel(byName.teacher, source as never);
    const reference = await evaluateModel(live, data);
    expect(evaluated.accuracy).toBe(reference.accuracy);
    expect(evaluated.loss).toBeCloseTo(reference.loss, 6);
    expect(tf.memory().numTensors).toBe(before);
    live.dispose();
    other.dispose();
    disposeData(data);
  });

  it('a declared numClasses replaces the probe: a mismatch with the student is refused before training, and ensemble members must agree', async () => {
    const data = toyData(12, 6, 3, 12);
    const declaring = (numClasses: number): Teacher => ({
      kind: 'kd-teacher',
      description: `declares ${numClasses}`,
      numClasses,
      tap: () => ({}),
      predict: () => {
        throw new Error('never run: nothing is probed');
      },
    });
    const student = mlp(6, 10, 3, 100);
    const optimizer = sgd({ learningRate: 0.1 });
    const distiller = new Distiller({ student, teacher: declaring(4), optimizer }).use(softTargets({ temperature: 2 }));
    await expect(distiller.fit(data, { epochs: 1 })).rejects.toMatchObject({
      code: 'class-count-mismatch',
      message: expect.stringContaining('outputs 4 classes but the student 3'),
    });
    expect(optimizer.iterations).toBe(0);
    expect(() => ensembleTeacher([declaring(3), declaring(4)])).toThrow(expect.objectContaining({ code: 'ensemble-mismatch' }));
    expect(ensembleTeacher([declaring(3), declaring(3)]).numClasses).toBe(3);
    const model = mlp(6, 4, 3, 9);
    expect(ensembleTeacher([declaring(3), model]).numClasses).toBeUndefined();
    model.dispose();
    distiller.dispose();
    optimizer.dispose();
    student.dispose();
    disposeData(data);
  });

  it('a plugin that declares changesTeacherInput turns the cache off before the first step, and fit-start says why', async () => {
    const data = toyData(16, 6, 3, 13);
    const teacher = mlp(6, 12, 3, 200);
    const student = mlp(6, 10, 3, 100);
    const optimizer = sgd({ learningRate: 0.1 });
    const noisy = definePlugin<void>({
      name: 'noisy',
      changesTeacherInput: true,
      transformBatch: (batch) => ({ ...batch, x: tf.add(batch.x, 0.01) }),
    });
    const distiller = new Distiller({ student, teacher, optimizer }).use(noisy, softTargets({ temperature: 2 }));
    const starts: unknown[] = [];
    await distiller.fit(data, { epochs: 2, batchSize: 8, onEvent: (e) => void (e.type === 'fit-start' && starts.push(e.teacherCache)) });
    expect(starts).toEqual([{ active: false, reason: expect.stringContaining('plugin(s) [noisy] change the teacher') }]);
    expect(distiller.teacherCacheStats()).toMatchObject({ active: false, hits: 0, misses: 0, bytes: 0 });
    expect(distiller.describe()).not.toContain('not run by this version');
    distiller.dispose();
    optimizer.dispose();
    student.dispose();
    teacher.dispose();
    disposeData(data);
  });
});
