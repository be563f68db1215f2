import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { disposeData, leakedTensors, mlp, toyData } from '../test/helpers';
import { Distiller } from './distiller';
import { NonFiniteLossError } from './errors';
import type { ProgressEvent } from './events';
import { definePlugin } from './plugin';
import { hardLabel } from './plugins/hardLabel';
import { logitMatching } from './plugins/logitMatching';
import { softTargets } from './plugins/softTargets';
import { ensembleTeacher } from './teacher';

const sgd = () => tf.train.sgd(0.1);

describe('plugin contract', () => {
  it('runs hooks in use() order, after-hooks in reverse, and passes tapped shapes to setup', async () => {
    const calls: string[] = [];
    const data = toyData(20, 4, 3, 1);
    const student = mlp(4, 6, 3, 1, 's');
    const teacher = mlp(4, 5, 3, 2, 't');
    let shapes: unknown;
    const tracer = (name: string) =>
      definePlugin<{ name: string }>({
        name,
        taps: { student: ['s_hidden'], teacher: ['t_hidden'] },
        setup(ctx) {
          calls.push(`${name}.setup`);
          shapes = { s: ctx.studentShapes, t: ctx.teacherShapes, n: ctx.dataSize, c: ctx.numClasses };
          return { name };
        },
        transformBatch(batch) {
          calls.push(`${name}.transformBatch`);
          return batch;
        },
        loss(outputs, ctx) {
          calls.push(`${ctx.state.name}.loss`);
          expect(outputs.student.features['s_hidden']!.shape).toEqual([10, 6]);
          expect(outputs.teacher!.features['t_hidden']!.shape).toEqual([10, 5]);
          expect(outputs.batch.index.shape).toEqual([10]);
          return tf.mean(outputs.student.features['s_hidden']!) as tf.Scalar;
        },
        afterStep(outputs) {
          calls.push(`${name}.afterStep`);
          expect(Object.keys(outputs.terms)).toEqual(['a', 'b']);
        },
        onEpochEnd() {
          calls.push(`${name}.onEpochEnd`);
        },
      });
    const distiller = new Distiller({ student, teacher, optimizer: sgd() }).use(tracer('a')).use(tracer('b'));
    await distiller.fit(data, { epochs: 1, batchSize: 10 });
    expect(shapes).toEqual({ s: { s_hidden: [null, 6] }, t: { t_hidden: [null, 5] }, n: 20, c: 3 });
    const step = ['a.transformBatch', 'b.transformBatch', 'a.loss', 'b.loss', 'b.afterStep', 'a.afterStep'];
    expect(calls).toEqual(['a.setup', 'b.setup', ...step, ...step, 'b.onEpochEnd', 'a.onEpochEnd']);
    disposeData(data);
  });

  it('trains plugin variables with the student and never touches the teacher', async () => {
    const data = toyData(32, 4, 3, 2);
    const student = mlp(4, 6, 3, 3);
    const teacher = mlp(4, 6, 3, 4);
    const teacherBefore = teacher.getWeights().map((w) => w.dataSync().slice());
    const scale = tf.variable(tf.scalar(1), true, 'kd_test_scale');
    const scaled = definePlugin<void>({
      name: 'scaled',
      needsTeacher: true,
      variables: () => [scale],
      loss: ({ student: s, teacher: t }) => tf.mean(tf.square(tf.sub(tf.mul(s.logits, scale), t!.logits))) as tf.Scalar,
    });
    await new Distiller({ student, teacher, optimizer: sgd() }).use(scaled).fit(data, { epochs: 2, batchSize: 8 });
    expect(scale.dataSync()[0]).not.toBe(1);
    teacher.getWeights().forEach((w, i) => expect(w.dataSync()).toEqual(teacherBefore[i]));
    scale.dispose();
    disposeData(data);
  });

  it('use() takes plugins of different state types one by one, several at once, or as a list (type-checked by pnpm typecheck)', () => {
    const student = mlp(4, 6, 3, 3);
    const counter = definePlugin<{ steps: number }>({
      name: 'counter',
      setup: () => ({ steps: 0 }),
      afterStep: (_, { state }) => void state.steps++,
    });
    const plugins = [hardLabel(), counter];
    const a = new Distiller({ student, optimizer: sgd() });
    for (const p of plugins) a.use(p);
    const b = new Distiller({ student, optimizer: sgd() }).use(plugins);
    const c = new Distiller({ student, optimizer: sgd() }).use(hardLabel(), [counter]);
    for (const d of [a, b, c]) {
      expect(d.plugins.map((p) => p.name)).toEqual(['ce', 'counter']);
      d.optimizer.dispose();
    }
    student.dispose();
  });

  it('accepts hooks this version does not know (forward compatibility) and lists them in describe()', async () => {
    const data = toyData(16, 4, 3, 2);
    const student = mlp(4, 6, 3, 3);
    const future = { name: 'future', loss: () => tf.scalar(0), onBatchEnd: () => undefined, priority: 3 } as never;
    const d = new Distiller({ student, optimizer: sgd() }).use(hardLabel()).use(future);
    expect(d.describe()).toBe('Loss = 1*ce + 1*future (not run by this version of kd: future.onBatchEnd, future.priority)');
    await d.fit(data, { epochs: 1, batchSize: 8 });
    d.dispose();
    d.optimizer.dispose();
    student.dispose();
    disposeData(data);
  });

  it('hardLabel trains on soft targets a transform sets (MixUp-style), not on the integer labels', async () => {
    const data = toyData(16, 4, 3, 2);
    const student = mlp(4, 6, 3, 3);
    // The one step of the epoch sees all 16 examples: its ce term is computed on the initial weights.
    const expected = tf.tidy(() => tf.mean(tf.neg(tf.mean(tf.logSoftmax(student.predict(data.x) as tf.Tensor), 1))).dataSync()[0]!);
    const hard = tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(data.y, 3), student.predict(data.x) as tf.Tensor).dataSync()[0]!);
    const mix = definePlugin<void>({
      name: 'mix',
      transformBatch: (b) => ({ ...b, targets: tf.fill([b.y.shape[0], 3], 1 / 3) as tf.Tensor2D }),
    });
    const d = new Distiller({ student, optimizer: sgd() }).use(mix).use(hardLabel());
    const history = await d.fit(data, { epochs: 1, batchSize: 16, shuffle: false });
    const ce = history.epochs[0]!.terms['ce']!;
    expect(Math.abs(ce - expected)).toBeLessThan(1e-5);
    expect(Math.abs(ce - hard)).toBeGreaterThan(1e-3);
    d.dispose();
    d.optimizer.dispose();
    student.dispose();
    disposeData(data);
  });

  it('names the missing needsTeacher when a plugin reads a teacher that was not run', async () => {
    const data = toyData(16, 4, 3, 2);
    const [student, teacher] = [mlp(4, 6, 3, 3), mlp(4, 6, 3, 4)];
    const sneaky = definePlugin<void>({
      name: 'sneaky',
      loss: ({ student: s, teacher: t }) => tf.mean(tf.sub(s.logits, t!.logits)) as tf.Scalar,
    });
    const before = tf.memory().numTensors;
    const d = new Distiller({ student, teacher, optimizer: sgd() }).use(hardLabel()).use(sneaky);
    await expect(d.fit(data, { epochs: 1, batchSize: 8 })).rejects.toThrow(
      'A plugin read outputs.teacher, but none of [ce, sneaky] declares needsTeacher: true',
    );
    d.dispose();
    d.optimizer.dispose();
    expect(tf.memory().numTensors).toBe(before);
    disposeData(data);
  });

  it('keeps tensors handed from loss to afterStep with context.keep, then frees them', async () => {
    const data = toyData(16, 4, 3, 3);
    let seen = -1;
    const carrier = definePlugin<{ kept?: tf.Tensor }>({
      name: 'carrier',
      setup: () => ({}),
      loss(outputs, ctx) {
        ctx.state.kept = ctx.keep(tf.square(outputs.student.logits));
        return hardLabel().loss!(outputs, ctx as never) as tf.Scalar;
      },
      afterStep(_outputs, ctx) {
        seen = ctx.state.kept!.isDisposed ? -2 : ctx.state.kept!.shape[0]!;
      },
    });
    const distiller = new Distiller({ student: mlp(4, 5, 3, 5), optimizer: sgd() }).use(carrier);
    await distiller.fit(data, { epochs: 1, batchSize: 16 });
    expect(seen).toBe(16);
    expect(await leakedTensors(() => distiller.fit(data, { epochs: 2, batchSize: 16 }))).toBe(0);
    disposeData(data);
  });

  it('emits a typed event stream', async () => {
    const data = toyData(24, 4, 3, 4);
    const events: ProgressEvent[] = [];
    await new Distiller({ student: mlp(4, 5, 3, 6), optimizer: sgd() })
      .use(hardLabel())
      .fit(data, { epochs: 2, batchSize: 10, validation: data, onEvent: (e) => void events.push(e) });
    const types = events.map((e) => e.type);
    const epoch = ['epoch-start', 'step-end', 'step-end', 'step-end', 'epoch-end'];
    expect(types).toEqual(['fit-start', ...epoch, ...epoch, 'fit-end']);
    const end = events.find((e) => e.type === 'epoch-end');
    expect(end?.type === 'epoch-end' && end.logs.validation?.accuracy).toBeGreaterThanOrEqual(0);
    disposeData(data);
  });
});

describe('errors before any work', () => {
  it('names unknown tapped layers and lists the available ones', async () => {
    const data = toyData(8, 4, 3, 1);
    const d = new Distiller({ student: mlp(4, 5, 3, 1, 'st'), optimizer: sgd() })
      .use(hardLabel())
      .use(definePlugin({ name: 'tapper', taps: { student: ['nope'] } }));
    await expect(d.fit(data, { epochs: 1 })).rejects.toThrow(
      /No layer named "nope" in the student.*Available layers: st_hidden, st_logits/,
    );
    disposeData(data);
  });

  it('rejects class-count mismatch, non-2D logits, bad labels, empty data and name clashes', async () => {
    const data = toyData(8, 4, 3, 1);
    const student = mlp(4, 5, 3, 1);
    const fourClassTeacher = mlp(4, 5, 4, 2);
    await expect(
      new Distiller({ student, teacher: fourClassTeacher, optimizer: sgd() }).use(softTargets()).fit(data, { epochs: 1 }),
    ).rejects.toThrow(/Teacher outputs 4 classes but the student 3/);

    const input = tfl.input({ shape: [4] });
    const flatStudent = tfl.model({
      inputs: input,
      outputs: tfl.layers.reshape({ targetShape: [2, 2] }).apply(input) as tfl.SymbolicTensor,
    });
    await expect(new Distiller({ student: flatStudent, optimizer: sgd() }).use(hardLabel()).fit(data, { epochs: 1 })).rejects.toThrow(
      /must output 2-D logits/,
    );

    const badLabels = { x: data.x, y: tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 0], 'int32') };
    await expect(new Distiller({ student, optimizer: sgd() }).use(hardLabel()).fit(badLabels, { epochs: 1 })).rejects.toThrow(
      /label y\[3\] = 3 is not an integer class in \[0, 3\)/,
    );
    const empty = { x: tf.zeros([0, 4]), y: tf.zeros([0], 'int32') as tf.Tensor1D };
    await expect(new Distiller({ student, optimizer: sgd() }).use(hardLabel()).fit(empty, { epochs: 1 })).rejects.toThrow(
      /training data is empty/,
    );
    const wrongWidth = { x: tf.zeros([8, 5]), y: data.y };
    await expect(new Distiller({ student, optimizer: sgd() }).use(hardLabel()).fit(wrongWidth, { epochs: 1 })).rejects.toThrow(
      /example shape \[5\] but the student expects \[4\]/,
    );
    expect(() => new Distiller({ student, optimizer: sgd() }).use(hardLabel()).use(hardLabel())).toThrow(/already in use/);
    expect(() => new Distiller({ student, optimizer: sgd() }).use(softTargets())).toThrow(/needs a teacher/);
    tf.dispose([badLabels.y, empty.x, empty.y, wrongWidth.x]);
    disposeData(data);
  });

  it('stops on a NaN term, naming the term and the step, without applying the update', async () => {
    const data = toyData(16, 4, 3, 1);
    const student = mlp(4, 5, 3, 7);
    const poison = definePlugin<void>({
      name: 'poison',
      loss: (_o, ctx) => (ctx.step === 2 ? tf.scalar(Number.NaN) : tf.scalar(0)),
    });
    const d = new Distiller({ student, optimizer: sgd() }).use(hardLabel()).use(poison);
    let weightsAtFailure: Float32Array[] = [];
    const error = await d
      .fit(data, {
        epochs: 3,
        batchSize: 8,
        onEvent: (e) => {
          if (e.type === 'step-end' && e.step === 1) weightsAtFailure = student.getWeights().map((w) => w.dataSync() as Float32Array);
        },
      })
      .catch((e) => e);
    expect(error).toBeInstanceOf(NonFiniteLossError);
    expect(error.message).toMatch(/Loss term "poison" is NaN at step 2 \(epoch 1\)/);
    student.getWeights().forEach((w, i) => expect(w.dataSync()).toEqual(weightsAtFailure[i]));
    disposeData(data);
  });
});

describe('teachers', () => {
  it('distils from an ensemble, a function teacher and logit matching without leaks', async () => {
    const data = toyData(32, 4, 3, 9);
    const members = [mlp(4, 6, 3, 11), mlp(4, 6, 3, 12)];
    for (const mean of ['arithmetic', 'geometric'] as const) {
      const d = new Distiller({ student: mlp(4, 6, 3, 13), teacher: ensembleTeacher(members, { mean }), optimizer: sgd() }).use(
        softTargets({ temperature: 2 }),
      );
      expect(await leakedTensors(() => d.fit(data, { epochs: 2, batchSize: 16 }))).toBe(0);
    }
    const fn = (x: tf.Tensor) => members[0]!.apply(x) as tf.Tensor;
    const d = new Distiller({ student: mlp(4, 6, 3, 14), teacher: fn, optimizer: sgd() }).use(logitMatching());
    const history = await d.fit(data, { epochs: 5, batchSize: 16 });
    expect(history.epochs[4]!.terms['logits']!).toBeLessThan(history.epochs[0]!.terms['logits']!);
    disposeData(data);
  });
});
