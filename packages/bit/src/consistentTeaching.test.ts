/**
 * Consistent teaching (Beyer et al. 2022, "function matching"): over a Distiller run with
 * `augment()` (@kd/data), `mixup()` (@kd/bit), or both, the teacher and the student receive
 * identical inputs at every step, and the teacher runs on them live (no cached outputs).
 *
 * Instruments: the student's and the teacher's first layer is an identity (`linear` activation)
 * whose output is tapped, so each model's own view of the batch is recorded; the teacher is also
 * wrapped so that the tensor the Distiller hands to `predict` is recorded. A first plugin records
 * the batch as read, before the transforms, to check that the views were transformed at all.
 */
import { type Batch, type DistillationPlugin, Distiller, definePlugin, softTargets, type Teacher, toTeacher } from '@kd/core';
import { augment } from '@kd/data';
import { leakedTensors } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import '../test/helpers';
import { mixup } from './augment';

const N = 24;
const BATCH = 8;
const EPOCHS = 2;
const STEPS = EPOCHS * (N / BATCH);

/** A tiny image classifier `[4, 4, 1] -> 3` whose first layer (`<name>_view`) is the identity. */
function model(name: string, hidden: number, seed: number): tfl.LayersModel {
  const m = tfl.sequential({ name });
  m.add(tfl.layers.activation({ inputShape: [4, 4, 1], activation: 'linear', name: `${name}_view` }));
  m.add(tfl.layers.flatten({ name: `${name}_flat` }));
  m.add(
    tfl.layers.dense({
      units: hidden,
      activation: 'relu',
      name: `${name}_hidden`,
      kernelInitializer: tfl.initializers.glorotUniform({ seed }),
    }),
  );
  m.add(tfl.layers.dense({ units: 3, name: `${name}_logits`, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }));
  return m;
}

/** Bytes of a tensor's values (a copy). */
const bytesOf = (t: tf.Tensor) => new Uint8Array((t.dataSync() as Float32Array).slice().buffer);

/** What one step's instruments saw. */
interface Seen {
  raw?: Uint8Array;
  student?: Uint8Array;
  teacherView?: Uint8Array;
  teacherInput?: Uint8Array;
}

/** Records the batch as read (put it first: `transformBatch` runs in `use()` order). */
function rawRecorder(steps: Seen[]): DistillationPlugin<void> {
  return definePlugin<void>({
    name: 'raw',
    transformBatch(batch: Batch, { step }) {
      steps[step] = { ...steps[step], raw: bytesOf(batch.x) };
      return batch;
    },
  });
}

/** Records each model's own view (its tapped identity first layer) after the step. */
function viewRecorder(steps: Seen[]): DistillationPlugin<void> {
  return definePlugin<void>({
    name: 'views',
    needsTeacher: true,
    taps: { student: ['student_view'], teacher: ['teacher_view'] },
    afterStep({ student, teacher }, { step }) {
      steps[step] = {
        ...steps[step],
        student: bytesOf(student.features['student_view']!),
        teacherView: bytesOf(teacher!.features['teacher_view']!),
      };
    },
  });
}

/**
 * The teacher model as a Teacher whose `predict` records the input tensor of every training step
 * (the calls that name the batch's examples; the Distiller's one-example probe of the class count
 * at the start of a fit does not).
 */
function recordingTeacher(teacherModel: tfl.LayersModel, inputs: { bytes: Uint8Array; transformed: boolean }[]): Teacher {
  const inner = toTeacher(teacherModel);
  return {
    ...inner,
    predict(x, batch) {
      if (batch) inputs.push({ bytes: bytesOf(x), transformed: batch.transformed === true });
      return inner.predict(x, batch);
    },
  };
}

/** Trains a tiny student from a tiny teacher with `transforms`; returns what each step's instruments saw. */
async function run(
  transforms: DistillationPlugin<unknown>[],
  seed = 3,
): Promise<{ steps: Seen[]; teacherCalls: number; transformed: boolean[]; leaked: number }> {
  const x = tf.randomUniform([N, 4, 4, 1], 0, 1, 'float32', 7);
  const y = tf.tensor1d(
    Int32Array.from({ length: N }, (_, i) => i % 3),
    'int32',
  );
  const student = model('student', 8, 11);
  const teacherModel = model('teacher', 12, 21);
  const inputs: { bytes: Uint8Array; transformed: boolean }[] = [];
  const steps: Seen[] = [];
  const optimizer = tf.train.sgd(0.1);
  const distiller = new Distiller({ student, teacher: recordingTeacher(teacherModel, inputs), optimizer, seed }).use(rawRecorder(steps));
  for (const t of transforms) distiller.use(t);
  distiller.use(softTargets({ temperature: 2 })).use(viewRecorder(steps));
  const leaked = await leakedTensors(async () => {
    // A second fit over the same data: a teacher cache would serve these steps, were it on.
    await distiller.fit({ x, y }, { epochs: EPOCHS / 2, batchSize: BATCH });
    await distiller.fit({ x, y }, { epochs: EPOCHS, batchSize: BATCH });
    distiller.dispose();
  });
  // The teacher is called once per step, in step order, when it runs live.
  inputs.forEach((input, i) => {
    if (steps[i]) steps[i]!.teacherInput = input.bytes;
  });
  optimizer.dispose();
  student.dispose();
  teacherModel.dispose();
  tf.dispose([x, y]);
  return { steps, teacherCalls: inputs.length, transformed: inputs.map((i) => i.transformed), leaked };
}

const same = (a: Uint8Array | undefined, b: Uint8Array | undefined) =>
  a !== undefined && b !== undefined && Buffer.from(a).equals(Buffer.from(b));

describe('consistent teaching: teacher and student see the same transformed batch at every step, the teacher runs live', () => {
  const cases: [string, () => DistillationPlugin<unknown>[]][] = [
    [
      'augment (crop, flip, jitter)',
      () => [augment({ crop: { padding: 1 }, flip: true, jitter: { pixels: 1 } }) as DistillationPlugin<unknown>],
    ],
    ['mixup (alpha 1)', () => [mixup({ alpha: 1 }) as unknown as DistillationPlugin<unknown>]],
    [
      'augment, then mixup',
      () => [
        augment({ crop: { padding: 1 }, flip: true }) as DistillationPlugin<unknown>,
        mixup({ alpha: 1 }) as unknown as DistillationPlugin<unknown>,
      ],
    ],
  ];

  it.each(cases)('%s', async (_name, transforms) => {
    const { steps, teacherCalls, transformed, leaked } = await run(transforms());
    expect(leaked).toBe(0);
    expect(steps).toHaveLength(STEPS);
    // The teacher ran at every step (no cached outputs, also in the second fit), told that its input was transformed.
    expect(teacherCalls).toBe(STEPS);
    expect(transformed).toEqual(new Array(STEPS).fill(true));
    steps.forEach((s, step) => {
      expect(s.student?.length, `step ${step}`).toBe(BATCH * 16 * 4);
      expect(same(s.student, s.teacherInput), `step ${step}: the teacher was given another input than the student saw`).toBe(true);
      expect(same(s.student, s.teacherView), `step ${step}: the teacher's first layer saw another input than the student's`).toBe(true);
      // The views were transformed: not the batch as read.
      expect(same(s.student, s.raw), `step ${step}: the transform left the batch as read`).toBe(false);
    });
  });

  it('the instruments catch an inconsistent transform (the student sees a changed view, the teacher the batch as read)', async () => {
    const inconsistent = definePlugin<void>({
      name: 'inconsistent',
      changesTeacherInput: false,
      transformBatch: (batch) => ({ ...batch, x: tf.sub(1, batch.x), teacherX: batch.x }),
    }) as DistillationPlugin<unknown>;
    const { steps, teacherCalls, leaked } = await run([inconsistent]);
    expect(leaked).toBe(0);
    // The teacher's input is the data as read, so the cache serves the second fit: 3 live steps.
    expect(teacherCalls).toBe(N / BATCH);
    for (const s of steps.slice(0, N / BATCH)) {
      expect(same(s.student, s.teacherInput)).toBe(false);
      expect(same(s.teacherInput, s.raw)).toBe(true);
    }
  });

  it('without a transform the teacher input is the batch as read (and the cache serves the second fit)', async () => {
    const { steps, teacherCalls } = await run([]);
    for (const s of steps.slice(0, N / BATCH)) expect(same(s.student, s.teacherInput) && same(s.student, s.raw)).toBe(true);
    // The first fit ran the teacher on every batch; the second was served from the teacher cache.
    expect(teacherCalls).toBeLessThan(STEPS);
  });
});
