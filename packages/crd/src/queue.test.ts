import {
  adam,
  type CheckpointStore,
  type DistillationPlugin,
  Distiller,
  definePlugin,
  hardLabel,
  isDistillationError,
  memoryCheckpointStore,
  SeededRandom,
  type SetupContext,
  softTargets,
} from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { disposeData, leakedTensors, mlp, toyData } from '../test/helpers';
import { type CrdQueueState, type CrdState, crd, crdEnsemble } from './plugin';

function setupContext(dataSize: number): SetupContext {
  return {
    dataSize,
    numClasses: 3,
    studentShapes: { s: [null, 12] },
    teacherShapes: { t: [null, 24] },
    labels: Int32Array.from({ length: dataSize }, (_, i) => i % 3),
    random: new SeededRandom(1),
  };
}

/** Records the batch indices of every step, in order (afterStep sees the batch the step trained on). */
function indexRecorder(seen: number[][]) {
  return definePlugin<void>({
    name: 'indices',
    afterStep: ({ batch }) => void seen.push(Array.from(batch.index!.dataSync())),
  });
}

/** The queue plugin's state inside a Distiller (its slot), for white-box checks. */
const stateOf = (distiller: Distiller, name = 'crd') =>
  (distiller as unknown as { slots: { plugin: { name: string }; state: CrdQueueState }[] }).slots.find((s) => s.plugin.name === name)!
    .state;

describe("crd({ memory: 'queue' })", () => {
  it('trains in a Distiller with KD: the term falls, the queues fill FIFO with the last K examples, nothing leaks, dispose() frees the queues', async () => {
    const n = 192;
    const k = 40;
    const data = toyData(n, 8, 3, 3);
    const plugin = crd({ student: 'student_pool', teacher: 'teacher_pool', featureDim: 16, memory: 'queue', queueSize: k, weight: 0.8 });
    const seen: number[][] = [];
    const distiller = new Distiller({
      student: mlp(8, 12, 3, 20, 'student'),
      teacher: mlp(8, 24, 3, 10, 'teacher'),
      optimizer: tf.train.sgd(0.1),
      seed: 4,
    })
      .use(hardLabel({ weight: 1 }))
      .use(softTargets({ temperature: 4, weight: 0.9 }))
      .use(plugin)
      .use(indexRecorder(seen));
    expect(distiller.describe()).toBe('Loss = 1*ce + 0.9*kd(T=4) + 0.8*crd(queue)');
    const base = tf.memory();
    let history: Awaited<ReturnType<Distiller['fit']>> | undefined;
    const leaked = await leakedTensors(async () => {
      history = await distiller.fit(data, { epochs: 4, batchSize: 32 });
    });
    // Heads (2 x kernel + bias) and the two queues stay until dispose(), with the Distiller's
    // scalar of each weight other than 1 (0.9, 0.8); nothing else.
    expect(leaked).toBe(6 + 2);
    const epochs = history!.epochs;
    for (const e of epochs) expect(Number.isFinite(e.terms['crd']!)).toBe(true);
    expect(epochs.at(-1)!.terms['crd']!).toBeLessThan(epochs[0]!.terms['crd']!);

    // afterStep enqueued every batch in order: entry (j) holds the example enqueued at position j mod K.
    const state = stateOf(distiller);
    const enqueued = seen.flat();
    expect(enqueued.length).toBe(4 * n);
    const queue = state.critics[0]!.queue;
    expect(queue.pointer).toBe(enqueued.length % k);
    const expectedIds = new Array<number>(k);
    enqueued.forEach((id, i) => {
      expectedIds[i % k] = id;
    });
    expect(Array.from(queue.ids)).toEqual(expectedIds);
    expect(queue.filled).toBe(k);
    const z = [state.critics[0]!.zStudent, state.critics[0]!.zTeacher];
    expect(z.every((v) => v !== null && v > 0)).toBe(true);

    // A further epoch leaks nothing and keeps Z.
    expect(await leakedTensors(() => distiller.fit(data, { epochs: 5, batchSize: 32 }))).toBe(0);
    expect([state.critics[0]!.zStudent, state.critics[0]!.zTeacher]).toEqual(z);
    const before = tf.memory();
    distiller.dispose();
    expect(before.numBytes - tf.memory().numBytes).toBe(2 * k * 16 * 4 + 4 * (12 * 16 + 16 + 24 * 16 + 16) + 2 * 4);
    expect(tf.memory().numTensors).toBe(base.numTensors);
    disposeData(data);
  });

  it("memory: the plugin's tensors are 2*K*d*4 bytes + the heads whatever N (the banks grow as 2*N*d*4)", () => {
    const d = 32;
    const k = 256;
    const heads = 4 * (12 * d + d + 24 * d + d);
    const bytesOf = (plugin: DistillationPlugin<CrdState | CrdQueueState>, n: number) => {
      const before = tf.memory();
      const state = plugin.setup!(setupContext(n)) as CrdState | CrdQueueState;
      const held = tf.memory().numBytes - before.numBytes;
      const fromState = Object.values(plugin.state!(state).tensors).reduce((sum, t) => sum + t.size * 4, 0);
      expect(fromState).toBe(held);
      plugin.dispose!(state);
      expect(tf.memory().numBytes).toBe(before.numBytes);
      return held;
    };
    const queued = [1000, 10_000, 100_000].map((n) =>
      bytesOf(crd({ student: 's', teacher: 't', featureDim: d, memory: 'queue', queueSize: k }), n),
    );
    expect(queued).toEqual([2 * k * d * 4 + heads, 2 * k * d * 4 + heads, 2 * k * d * 4 + heads]);
    const banked = [1000, 10_000].map((n) => bytesOf(crd({ student: 's', teacher: 't', featureDim: d, negatives: k }), n));
    expect(banked).toEqual([2 * 1000 * d * 4 + heads, 2 * 10_000 * d * 4 + heads]);
  });

  it("a batch's own examples are never its negatives, in a run where the queue holds them (K close to N)", async () => {
    const n = 48;
    const data = toyData(n, 8, 3, 9);
    const inner = crd({ student: 's_pool', teacher: 't_pool', featureDim: 8, memory: 'queue', queueSize: 40 });
    let checked = 0;
    let replaced = 0;
    // Wraps the loss hook: at each step, the drawn negatives against the queue's ids and the batch.
    const plugin: DistillationPlugin<CrdState | CrdQueueState> = {
      ...inner,
      loss(outputs, context) {
        const state = context.state as CrdQueueState;
        const sample = state.pending!.sample;
        const batch = new Set(outputs.batch.index!.dataSync());
        expect(Array.from(sample.index).sort()).toEqual(Array.from(batch).sort());
        expect(sample.negatives.length).toBe(40);
        for (const position of sample.negatives) expect(batch.has(state.critics[0]!.queue.ids[position]!)).toBe(false);
        checked++;
        replaced += sample.replaced;
        return inner.loss!(outputs, context as Parameters<NonNullable<typeof inner.loss>>[1]);
      },
    };
    const distiller = new Distiller({
      student: mlp(8, 12, 3, 1, 's'),
      teacher: mlp(8, 16, 3, 2, 't'),
      optimizer: tf.train.sgd(0.05),
      seed: 2,
    })
      .use(hardLabel())
      .use(plugin);
    await distiller.fit(data, { epochs: 4, batchSize: 16 });
    expect(checked).toBe(12);
    expect(replaced).toBeGreaterThan(0); // some steps found their examples in the queue
    distiller.dispose();
    disposeData(data);
  });

  it('CRD-EN with queues: one critic and one pair of queues per teacher, holding the same ids', async () => {
    const data = toyData(96, 8, 3, 6);
    const { ensembleTeacher } = await import('@kd/core');
    const teacher = ensembleTeacher([mlp(8, 24, 3, 3, 'ta'), mlp(8, 20, 3, 4, 'tb')]);
    const plugin = crdEnsemble(
      [
        { student: 's3_pool', teacher: '0/ta_pool' },
        { student: 's3_pool', teacher: '1/tb_pool' },
      ],
      { featureDim: 8, memory: 'queue', queueSize: 24, weight: 0.5 },
    );
    const distiller = new Distiller({ student: mlp(8, 12, 3, 5, 's3'), teacher, optimizer: tf.train.sgd(0.05) })
      .use(hardLabel())
      .use(plugin);
    expect(distiller.describe()).toBe('Loss = 1*ce + 0.5*crd-en(queue)');
    const base = tf.memory().numTensors;
    const h = await distiller.fit(data, { epochs: 2, batchSize: 16 });
    expect(Object.keys(h.epochs[0]!.terms).sort()).toEqual(['ce', 'crd-en/0', 'crd-en/1']);
    // 2 critics x (4 head variables + 2 queues), and the Distiller's scalar of the weight 0.5.
    expect(tf.memory().numTensors - base).toBe(12 + 1);
    const state = stateOf(distiller, 'crd-en');
    expect(Array.from(state.critics[1]!.queue.ids)).toEqual(Array.from(state.critics[0]!.queue.ids));
    expect(state.critics[0]!.queue.filled).toBe(24);
    distiller.dispose();
    expect(tf.memory().numTensors).toBe(base);
    disposeData(data);
  });

  it('needs no labels (its negatives are not class-aware), unlike the default banks', () => {
    const { labels: _, ...labelless } = setupContext(30);
    const queued = crd({ student: 's', teacher: 't', featureDim: 4, memory: 'queue', queueSize: 8 });
    const state = queued.setup!(labelless) as CrdQueueState;
    expect(state.memory).toBe('queue');
    queued.dispose!(state);
    expect(() => crd({ student: 's', teacher: 't', featureDim: 4, negatives: 8 }).setup!(labelless)).toThrow(/needs the training labels/);
  });

  it("refuses a checkpoint of the banks (and the banks refuse a queue's) before changing anything", () => {
    const queued = crd({ student: 's', teacher: 't', featureDim: 4, memory: 'queue', queueSize: 8 });
    const banked = crd({ student: 's', teacher: 't', featureDim: 4, negatives: 8 });
    const q = queued.setup!(setupContext(20)) as CrdQueueState;
    const b = banked.setup!(setupContext(20)) as CrdState;
    const kernel = q.critics[0]!.studentHead.kernel.arraySync();
    const before = tf.memory().numTensors;
    for (const [load, fragment] of [
      [() => queued.loadState!(q, banked.state!(b)), "not one of memory: 'queue'"],
      [
        () => queued.loadState!(q, { ...queued.state!(q), json: { memory: 'queue', critics: [{ zStudent: 1, zTeacher: 1 }] } }),
        "lacks the queue's ids and pointer",
      ],
      [() => banked.loadState!(b, queued.state!(q)), 'checkpoint lacks bank/student, bank/teacher'],
    ] as const) {
      let error: unknown;
      try {
        load();
      } catch (e) {
        error = e;
      }
      expect(isDistillationError(error, 'checkpoint-mismatch'), String(error)).toBe(true);
      expect((error as Error).message).toContain(fragment);
    }
    expect(q.critics[0]!.studentHead.kernel.arraySync()).toEqual(kernel);
    expect(tf.memory().numTensors).toBe(before);
    queued.dispose!(q);
    banked.dispose!(b);
  });
});

describe('queue memory resumes exactly', () => {
  const EPOCHS = 3;
  const BATCH = 8; // 44 examples: 6 steps per epoch, the last one short; 18 steps in all
  const make = () => {
    const student = mlp(6, 10, 3, 100, 'rs');
    const teacher = mlp(6, 12, 3, 200, 'rt');
    const optimizer = adam({ learningRate: 0.02 });
    const distiller = new Distiller({ student, teacher, optimizer, seed: 7 })
      .use(hardLabel({ weight: 0.5 }))
      .use(softTargets({ temperature: 3 }))
      .use(crd({ student: 'rs_pool', teacher: 'rt_pool', featureDim: 8, memory: 'queue', queueSize: 20, weight: 0.8 }));
    return {
      student,
      distiller,
      dispose: () => {
        distiller.dispose();
        optimizer.dispose();
        student.dispose();
        teacher.dispose();
      },
    };
  };
  class Crash extends Error {}

  it('a run interrupted at steps 1 (queue still filling), 5, 6 (epoch end), 9 and 17 and resumed equals the uninterrupted run bit for bit', async () => {
    const data = toyData(44, 6, 3, 5);
    const straight = make();
    const history = await straight.distiller.fit(data, { epochs: EPOCHS, batchSize: BATCH });
    const expected = straight.student.getWeights().map((w) => Array.from(w.dataSync()));
    const expectedState = (await straight.distiller.checkpoint()).plugins['crd']!;
    expect((expectedState.json as { critics: { pointer: number }[] }).critics[0]!.pointer).toBe((44 * EPOCHS) % 20);
    for (const crashAt of [1, 5, 6, 9, 17]) {
      const store: CheckpointStore = memoryCheckpointStore();
      const first = make();
      await expect(
        first.distiller.fit(data, {
          epochs: EPOCHS,
          batchSize: BATCH,
          checkpoint: store,
          checkpointEvery: crashAt,
          onEvent: (e) => {
            if (e.type === 'checkpoint' && e.step === crashAt) throw new Crash('killed');
          },
        }),
      ).rejects.toThrow(Crash);
      first.dispose();
      const before = tf.memory().numTensors;
      const resumed = make();
      const steps: number[] = [];
      const resumedHistory = await resumed.distiller.fit(data, {
        epochs: EPOCHS,
        batchSize: BATCH,
        checkpoint: store,
        resume: true,
        onEvent: (e) => void (e.type === 'step-end' && steps.push(e.step)),
      });
      expect(steps[0]).toBe(crashAt);
      expect(
        resumed.student.getWeights().map((w) => Array.from(w.dataSync())),
        `crash at ${crashAt}`,
      ).toEqual(expected);
      const state = (await resumed.distiller.checkpoint()).plugins['crd']!;
      expect(state.json).toEqual(expectedState.json); // Z, queue ids and pointer
      expect(state.tensors.map((t) => [t.name, Array.from(t.values)])).toEqual(
        expectedState.tensors.map((t) => [t.name, Array.from(t.values)]),
      );
      expect(resumedHistory.epochs.map((e) => [e.loss, e.terms])).toEqual(history.epochs.map((e) => [e.loss, e.terms]));
      resumed.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
    straight.dispose();
    disposeData(data);
  });
});
