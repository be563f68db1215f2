import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBuildCurrent } from '@kd/testing/buildFreshness';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disposeData, mlp, toyData } from '../test/helpers';
import { type CheckpointStore, memoryCheckpointStore } from './checkpoint';
import { Distiller } from './distiller';
import { fileCheckpointStore } from './io/fileCheckpointStore';
import { adam, adamW } from './optimizers/adam';
import { rmsprop } from './optimizers/rmsprop';
import { sgd } from './optimizers/sgd';
import { definePlugin } from './plugin';
import { hardLabel } from './plugins/hardLabel';
import { softTargets } from './plugins/softTargets';
import { cosineDecay, linearWarmup } from './schedules';
import { fitStages, type Stage } from './stages';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kd-resume-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A plugin with tensor state and randomness (draws from the run's source every step). */
function noisySum() {
  return definePlugin<{ sum: tf.Variable }>({
    name: 'noisySum',
    setup: (ctx) => ({ sum: tf.tidy(() => tf.variable(tf.zeros([ctx.numClasses]), false)) }),
    afterStep: ({ student }, { state, random }) => {
      const noise = random.next();
      tf.tidy(() => state.sum.assign(tf.add(state.sum, tf.mul(tf.sum(student.logits, 0), noise))));
    },
    state: (s) => ({ tensors: { sum: s.sum } }),
    loadState: (s, saved) => s.sum.assign(saved.tensors['sum']!),
    dispose: (s) => s.sum.dispose(),
  });
}

const optimizers: Record<string, () => tf.Optimizer> = {
  adam: () => adam({ learningRate: 0.02 }),
  adamW: () => adamW({ learningRate: 0.02, weightDecay: 0.05 }),
  'sgd+momentum+decay': () => sgd({ learningRate: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-3 }),
  'rmsprop+momentum': () => rmsprop({ learningRate: 0.005, momentum: 0.5 }),
};

function makeRun(optimizer: () => tf.Optimizer, seed: number) {
  const student = mlp(6, 10, 3, 100);
  const teacher = mlp(6, 12, 3, 200);
  const distiller = new Distiller({ student, teacher, optimizer: optimizer(), seed })
    .use(hardLabel({ weight: 0.5 }))
    .use(softTargets({ temperature: 3 }))
    .use(noisySum());
  return { student, teacher, distiller };
}

const EPOCHS = 3;
const BATCH = 8; // 44 examples: 6 steps per epoch, the last one short; 18 steps in all
const schedule = linearWarmup(cosineDecay({ initial: 1, final: 0.1 }), 4);
const scaled = (base: number) => (p: Parameters<typeof schedule>[0]) => base * schedule(p);

class Crash extends Error {}

/** Trains until the checkpoint after `crashAt` steps is written, then "crashes" (the listener throws). */
async function runUntilCrash(
  optimizer: () => tf.Optimizer,
  store: CheckpointStore,
  crashAt: number,
  rate: number,
  data: ReturnType<typeof toyData>,
) {
  const run = makeRun(optimizer, 7);
  await expect(
    run.distiller.fit(data, {
      epochs: EPOCHS,
      batchSize: BATCH,
      learningRate: scaled(rate),
      checkpoint: store,
      checkpointEvery: crashAt,
      onEvent: (e) => {
        if (e.type === 'checkpoint' && e.step === crashAt) throw new Crash('killed');
      },
    }),
  ).rejects.toThrow(Crash);
  run.distiller.dispose();
  run.student.dispose();
  run.teacher.dispose();
}

describe('exact resume from a checkpoint inside or at the end of an epoch', () => {
  for (const [name, optimizer] of Object.entries(optimizers)) {
    it(`${name}: resumed runs end bit-identical to an uninterrupted one, at steps 1, 5, 6 (epoch end), 9, 17`, async () => {
      const data = toyData(44, 6, 3, 5);
      const rate = (optimizer() as unknown as { learningRate: number }).learningRate;
      const straight = makeRun(optimizer, 7);
      const history = await straight.distiller.fit(data, { epochs: EPOCHS, batchSize: BATCH, learningRate: scaled(rate) });
      const expected = straight.student.getWeights().map((w) => Array.from(w.dataSync()));
      const expectedState = await straight.distiller.checkpoint();
      for (const crashAt of [1, 5, 6, 9, 17]) {
        const store = memoryCheckpointStore();
        await runUntilCrash(optimizer, store, crashAt, rate, data);
        const before = tf.memory().numTensors;
        const resumed = makeRun(optimizer, 7); // the same seed (another is refused); the rest comes from the checkpoint
        const steps: number[] = [];
        const resumedHistory = await resumed.distiller.fit(data, {
          epochs: EPOCHS,
          batchSize: BATCH,
          learningRate: scaled(rate),
          checkpoint: store,
          resume: true,
          onEvent: (e) => void (e.type === 'step-end' && steps.push(e.step)),
        });
        expect(steps[0]).toBe(crashAt);
        expect(resumed.student.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(expected);
        const state = await resumed.distiller.checkpoint();
        expect(state.optimizer.map((r) => Array.from(r.values))).toEqual(expectedState.optimizer.map((r) => Array.from(r.values)));
        expect(Array.from(state.plugins['noisySum']!.tensors[0]!.values)).toEqual(
          Array.from(expectedState.plugins['noisySum']!.tensors[0]!.values),
        );
        // The epoch logs (means over the whole epoch) are the same, the resumed part included.
        expect(resumedHistory.epochs.map((e) => [e.loss, e.terms])).toEqual(history.epochs.map((e) => [e.loss, e.terms]));
        resumed.distiller.dispose();
        resumed.distiller.optimizer.dispose();
        resumed.student.dispose();
        resumed.teacher.dispose();
        // Nothing of the restore outlives the run (2 models' weights are disposed with them).
        expect(tf.memory().numTensors).toBe(before);
      }
      straight.distiller.dispose();
      disposeData(data);
    });
  }

  it('plugin variables without names and a trainable filter that unfreezes a layer mid-run resume exactly', async () => {
    const data = toyData(44, 6, 3, 5);
    // A plugin with an unnamed variable (tfjs names it with a number, which object keys list first).
    const shift = () =>
      definePlugin<{ bias: tf.Variable }>({
        name: 'shift',
        setup: (ctx) => ({ bias: tf.tidy(() => tf.variable(tf.zeros([ctx.numClasses]))) }),
        variables: (s) => [s.bias],
        loss: ({ student }, { state }) => tf.mul(tf.mean(tf.square(tf.add(student.logits, state.bias))), 0.01) as tf.Scalar,
        state: (s) => ({ tensors: { bias: s.bias } }),
        loadState: (s, saved) => s.bias.assign(saved.tensors['bias']!),
        dispose: (s) => s.bias.dispose(),
      });
    const make = () => {
      const student = mlp(6, 10, 3, 100);
      let unfrozen = false;
      // Epoch 0 trains only the logits layer and the plugin's bias; from epoch 1 on, everything.
      const unfreeze = definePlugin<void>({
        name: 'unfreeze',
        transformBatch: (batch, { epoch }) => {
          unfrozen = epoch >= 1;
          return batch;
        },
      });
      const distiller = new Distiller({
        student,
        optimizer: adam({ learningRate: 0.02 }),
        seed: 3,
        trainable: (v) => unfrozen || !v.name.includes('hidden'),
      })
        .use(unfreeze)
        .use(hardLabel())
        .use(shift());
      return { student, distiller };
    };
    const straight = make();
    await straight.distiller.fit(data, { epochs: 3, batchSize: BATCH });
    const expected = straight.student.getWeights().map((w) => Array.from(w.dataSync()));
    for (const crashAt of [3, 8, 14]) {
      const store = memoryCheckpointStore();
      const first = make();
      await expect(
        first.distiller.fit(data, {
          epochs: 3,
          batchSize: BATCH,
          checkpoint: store,
          checkpointEvery: crashAt,
          onEvent: (e) => {
            if (e.type === 'checkpoint' && e.step === crashAt) throw new Crash('killed');
          },
        }),
      ).rejects.toThrow(Crash);
      first.distiller.dispose();
      first.distiller.optimizer.dispose();
      first.student.dispose();
      const resumed = make();
      await resumed.distiller.fit(data, { epochs: 3, batchSize: BATCH, checkpoint: store, resume: true });
      expect(resumed.student.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(expected);
      resumed.distiller.dispose();
      resumed.distiller.optimizer.dispose();
      resumed.student.dispose();
    }
    straight.distiller.dispose();
    straight.distiller.optimizer.dispose();
    straight.student.dispose();
    disposeData(data);
  });

  it('maxSteps inside an epoch leaves the epoch open: a later fit continues it exactly', async () => {
    const data = toyData(44, 6, 3, 5);
    const straight = makeRun(optimizers['adam']!, 3);
    await straight.distiller.fit(data, { epochs: 2, batchSize: BATCH });
    const stopped = makeRun(optimizers['adam']!, 3);
    const partial = await stopped.distiller.fit(data, { epochs: 2, batchSize: BATCH, maxSteps: 4 });
    expect(partial.epochs.map((e) => e.epoch)).toEqual([0]);
    const rest = await stopped.distiller.fit(data, { epochs: 2, batchSize: BATCH });
    expect(rest.epochs.map((e) => e.epoch)).toEqual([0, 1]);
    expect(stopped.student.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(
      straight.student.getWeights().map((w) => Array.from(w.dataSync())),
    );
    straight.distiller.dispose();
    stopped.distiller.dispose();
    disposeData(data);
  });

  it('fitStages resumes exactly: inside stage 1, at its end, and inside stage 2', async () => {
    const data = toyData(44, 6, 3, 9);
    const stages = (onEvent?: (e: { type: string }) => void): Stage[] => [
      {
        name: 'ce',
        plugins: [hardLabel()],
        epochs: 2,
        optimizer: sgd({ learningRate: 0.1, momentum: 0.9 }),
        fit: { batchSize: BATCH, ...(onEvent ? { onEvent } : {}) },
      },
      {
        name: 'kd',
        plugins: [hardLabel({ weight: 0.5 }), softTargets({ temperature: 2 }), noisySum()],
        epochs: 2,
        optimizer: adam({ learningRate: 0.01 }),
        fit: { batchSize: BATCH, ...(onEvent ? { onEvent } : {}) },
      },
    ];
    const run = async (onEvent?: (e: { type: string }) => void, store?: CheckpointStore, resume = false) => {
      const student = mlp(6, 10, 3, 100);
      const teacher = mlp(6, 12, 3, 200);
      const list = stages(onEvent);
      try {
        await fitStages(
          { student, teacher, seed: 5, stages: list, ...(store ? { checkpoint: store, resume, checkpointEvery: 4 } : {}) },
          data,
        );
        return student.getWeights().map((w) => Array.from(w.dataSync()));
      } finally {
        for (const stage of list) stage.optimizer.dispose();
        student.dispose();
        teacher.dispose();
      }
    };
    const expected = await run();
    // 6 steps per epoch; checkpoints every 4 steps and at epoch ends: events 1..n in order.
    for (const crashAt of [2, 4, 7]) {
      const store = memoryCheckpointStore();
      let seen = 0;
      await expect(
        run((e) => {
          if (e.type === 'checkpoint' && ++seen === crashAt) throw new Crash('killed');
        }, store),
      ).rejects.toThrow(Crash);
      expect(await run(undefined, store, true)).toEqual(expected);
    }
    disposeData(data);
  });

  // Needs a build of the current sources (`pnpm test` builds first; CI builds before testing).
  it.skipIf(!distIsCurrent())('resumes across processes from a file checkpoint, bit-identically (separate Node process)', async () => {
    // The child trains 2 epochs of the same run with a file store and exits; this process resumes.
    const path = join(dir, 'cross.ckpt');
    const core = new URL('../dist/index.js', import.meta.url).pathname;
    const node = new URL('../dist/node.js', import.meta.url).pathname;
    const script = `import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Distiller, adam, hardLabel, softTargets } from ${JSON.stringify(core)};
import { fileCheckpointStore } from ${JSON.stringify(node)};
await tf.setBackend('cpu');
${mlpSource}
const x = tf.randomUniform([40, 6], -1, 1, 'float32', 11);
const y = tf.tensor1d(Array.from({ length: 40 }, (_, i) => i % 3), 'int32');
const d = new Distiller({ student: mlp(6, 10, 3, 100), teacher: mlp(6, 12, 3, 200), optimizer: adam({ learningRate: 0.02 }), seed: 4 })
  .use(hardLabel()).use(softTargets({ temperature: 2 }));
await d.fit({ x, y }, { epochs: 3, batchSize: 8, checkpoint: fileCheckpointStore(${JSON.stringify(path)}), checkpointEvery: 7, maxSteps: 7 });
`;
    // --input-type=module -e: bare imports resolve from the package folder (cwd).
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: new URL('..', import.meta.url).pathname, stdio: 'pipe' });
    const x = tf.randomUniform([40, 6], -1, 1, 'float32', 11);
    const y = tf.tensor1d(
      Array.from({ length: 40 }, (_, i) => i % 3),
      'int32',
    );
    const make = () =>
      new Distiller({ student: mlp(6, 10, 3, 100), teacher: mlp(6, 12, 3, 200), optimizer: adam({ learningRate: 0.02 }), seed: 4 })
        .use(hardLabel())
        .use(softTargets({ temperature: 2 }));
    const straight = make();
    await straight.fit({ x, y }, { epochs: 3, batchSize: 8 });
    const resumed = make();
    await resumed.fit({ x, y }, { epochs: 3, batchSize: 8, checkpoint: fileCheckpointStore(path), resume: true });
    expect(resumed.student.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(
      straight.student.getWeights().map((w) => Array.from(w.dataSync())),
    );
    expect((await readdir(dir)).filter((f) => f.includes('.tmp-'))).toEqual([]);
    straight.dispose();
    resumed.dispose();
    tf.dispose([x, y]);
  });
});

/** Whether dist/ exists and is newer than every source file (else the child would run old code). */
function distIsCurrent(): boolean {
  return isBuildCurrent(new URL('.', import.meta.url).pathname, [new URL('../dist/index.js', import.meta.url).pathname]);
}

/** The seeded MLP of @kd/testing, as source for the child process (same initial weights). */
const mlpSource = `function mlp(inputs, hidden, classes, seed) {
  const m = tfl.sequential();
  m.add(tfl.layers.dense({ inputShape: [inputs], units: hidden, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed }) }));
  m.add(tfl.layers.dense({ units: classes, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }));
  return m;
}`;
