/**
 * issue 17's composition check: methods of four packages in one Distiller — hard labels and KD
 * (@kd/core), CRD (@kd/crd), FitNet and NST (@kd/fitnet), DKD (@kd/logits) and RKD
 * (@kd/relational) — on one tiny CNN pair: every term is computed and logged each epoch, the
 * total falls, a resumed run equals the uninterrupted one bit for bit, and nothing leaks.
 */
import { useBestBackend } from '@kd/backend-gpu';
import { adam, type Checkpoint, type CheckpointStore, Distiller, hardLabel, softTargets } from '@kd/core';
import { crd } from '@kd/crd';
import { fitnet, neuronSelectivityTransfer } from '@kd/fitnet';
import { dkd } from '@kd/logits';
import { rkd } from '@kd/relational';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { cnn } from '../src/quality/models';

await useBestBackend('wasm');

const N = 96;
const data = () => ({
  x: tf.randomUniform([N, 28, 28, 1], 0, 1, 'float32', 3),
  y: tf.randomUniform([N], 0, 10, 'int32', 4) as tf.Tensor1D,
});

function distiller(teacher: ReturnType<typeof cnn>) {
  const student = cnn('student', 2, 4, 8, 5);
  const optimizer = adam({ learningRate: 0.003 });
  const d = new Distiller({ student, teacher, optimizer, seed: 7 })
    .use(hardLabel({ weight: 1 }))
    .use(softTargets({ temperature: 4, weight: 0.9 }))
    .use(crd({ student: 'student_pool', teacher: 'teacher_pool', negatives: 32, featureDim: 8, weight: 0.4 }))
    .use(fitnet({ student: 'student_block2', teacher: 'teacher_block2', weight: 10 }))
    .use(neuronSelectivityTransfer({ pairs: [{ student: 'student_block2', teacher: 'teacher_block2' }], weight: 5 }))
    .use(dkd({ warmupEpochs: 2 }))
    .use(rkd({ student: 'student_pool', teacher: 'teacher_pool' }));
  return {
    d,
    student,
    dispose() {
      d.dispose();
      optimizer.dispose();
      student.dispose();
    },
  };
}

function memoryStore(): CheckpointStore & { last?: Checkpoint } {
  const store: CheckpointStore & { last?: Checkpoint } = {
    async save(checkpoint) {
      store.last = checkpoint;
    },
    async load() {
      return store.last;
    },
  };
  return store;
}

const weightsOf = (model: ReturnType<typeof cnn>) => model.getWeights().map((w) => Array.from(w.dataSync()));

describe('seven terms from five packages in one Distiller', () => {
  it('computes and logs every term, trains, resumes bit-exactly and leaks nothing', async () => {
    const { x, y } = data();
    const teacher = cnn('teacher', 4, 8, 16, 1);
    const before = tf.memory().numTensors;

    const full = distiller(teacher);
    expect(full.d.describe()).toMatch(
      /^Loss = 1\*ce \+ 0\.9\*kd\(T=4\) \+ 0\.4\*crd.* \+ 10\*fitnet.* \+ 5\*nst.* \+ 1\*dkd\(.*warm-up 2 epochs\) \+ 1\*rkd/,
    );
    const history = await full.d.fit({ x, y }, { epochs: 4, batchSize: 32 });
    const names = ['ce', 'kd', 'crd', 'fitnet', 'nst', 'dkd', 'rkd'];
    for (const epoch of history.epochs) {
      expect(Object.keys(epoch.terms).sort()).toEqual([...names].sort());
      for (const name of names) expect(Number.isFinite(epoch.terms[name]!), name).toBe(true);
    }
    expect(history.epochs.map((e) => e.weights.dkd)).toEqual([0.5, 1, 1, 1]);
    // From epoch 1 on every weight is constant: the weighted total falls.
    expect(history.epochs.at(-1)!.loss).toBeLessThan(history.epochs[1]!.loss);
    const uninterrupted = weightsOf(full.student);
    full.dispose();

    // The same run, stopped after 2 epochs and resumed by a new Distiller from the checkpoint.
    const store = memoryStore();
    const first = distiller(teacher);
    await first.d.fit({ x, y }, { epochs: 2, batchSize: 32, checkpoint: store });
    first.dispose();
    const second = distiller(teacher);
    await second.d.fit({ x, y }, { epochs: 4, batchSize: 32, checkpoint: store, resume: true });
    expect(weightsOf(second.student)).toEqual(uninterrupted);
    second.dispose();

    store.last = undefined;
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, y]);
    teacher.dispose();
  });
});
