import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disposeData, leakedTensors, mlp, toyData } from '../../test/helpers';
import { decodeCheckpoint, encodeCheckpoint, memoryCheckpointStore } from '../checkpoint';
import { Distiller } from '../distiller';
import { adam } from '../optimizers/adam';
import { definePlugin } from '../plugin';
import { hardLabel } from '../plugins/hardLabel';
import { softTargets } from '../plugins/softTargets';
import { fileCheckpointStore } from './fileCheckpointStore';
import { loadModel, saveModel } from './modelFiles';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kd-io-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A plugin with tensor state (a running sum of logits) to check plugin checkpoints. */
function runningSum() {
  return definePlugin<{ sum: tf.Variable }>({
    name: 'runningSum',
    setup: (ctx) => ({ sum: tf.variable(tf.zeros([ctx.numClasses]), false) }),
    afterStep: ({ student }, { state }) => {
      tf.tidy(() => state.sum.assign(tf.add(state.sum, tf.sum(student.logits, 0))));
    },
    state: (s) => ({ tensors: { sum: s.sum }, json: { note: 'sum' } }),
    loadState: (s, saved) => s.sum.assign(saved.tensors['sum']!),
    dispose: (s) => s.sum.dispose(),
  });
}

function makeRun(seed: number) {
  const student = mlp(6, 10, 3, 100);
  const teacher = mlp(6, 12, 3, 200);
  const plugin = runningSum();
  const distiller = new Distiller({ student, teacher, optimizer: adam({ learningRate: 0.01 }), seed })
    .use(hardLabel({ weight: 0.5 }))
    .use(softTargets({ temperature: 3 }))
    .use(plugin);
  return { student, teacher, distiller };
}

describe('model files', () => {
  it('saves model.json + weights.bin with distillation metadata and loads it back identically', async () => {
    const model = mlp(4, 5, 3, 1, 'saved');
    const target = join(dir, 'student');
    await saveModel(model, target, { loss: 'Loss = 1*ce', temperature: 4 });
    expect((await readdir(target)).sort()).toEqual(['model.json', 'weights.bin']);
    const json = JSON.parse(await readFile(join(target, 'model.json'), 'utf8'));
    expect(json.userDefinedMetadata.kd).toEqual({ loss: 'Loss = 1*ce', temperature: 4 });
    expect(json.weightsManifest[0].paths).toEqual(['./weights.bin']);
    const loaded = await loadModel(target);
    const x = tf.randomNormal([5, 4], 0, 1, 'float32', 3);
    const a = model.predict(x) as tf.Tensor;
    const b = loaded.predict(x) as tf.Tensor;
    expect(b.dataSync()).toEqual(a.dataSync());
    expect((loaded.getUserDefinedMetadata() as { kd: unknown }).kd).toEqual({ loss: 'Loss = 1*ce', temperature: 4 });
    tf.dispose([x, a, b]);
    loaded.dispose();
  });

  it('saveModel removes temporary files a killed save left behind', async () => {
    const target = join(dir, 'killed-model');
    await mkdir(target, { recursive: true });
    for (const f of ['weights.bin.tmp-4194999-00000001', 'model.json.tmp-4194999-00000002', '.kd-probe-4194999-00000003']) {
      await writeFile(join(target, f), 'partial');
    }
    const model = mlp(6, 10, 3, 100);
    await saveModel(model, target);
    expect((await readdir(target)).sort()).toEqual(['model.json', 'weights.bin']);
    model.dispose();
  });

  it('fails clearly when the directory has no model', async () => {
    await expect(loadModel(join(dir, 'missing'))).rejects.toThrow(/No model at .*missing.*model.json does not exist/);
  });
});

describe('checkpoints', () => {
  it('resumes exactly: 2 epochs + checkpoint + resume in a fresh Distiller = 4 straight epochs', async () => {
    const data = toyData(40, 6, 3, 5);
    const straight = makeRun(42);
    await straight.distiller.fit(data, { epochs: 4, batchSize: 16 });

    const path = join(dir, 'run.ckpt');
    const store = fileCheckpointStore(path);
    const first = makeRun(42);
    await first.distiller.fit(data, { epochs: 2, batchSize: 16, checkpoint: store });
    first.distiller.dispose();
    expect((await readdir(dir)).filter((f) => f.includes('.tmp-'))).toEqual([]);

    // Another seed is refused before anything is restored: every random draw is keyed by it.
    const other = makeRun(999);
    await expect(other.distiller.fit(data, { epochs: 4, batchSize: 16, checkpoint: store, resume: true })).rejects.toMatchObject({
      code: 'checkpoint-mismatch',
      message: expect.stringContaining('seed 42, this Distiller has seed 999'),
    });
    other.distiller.dispose();
    const resumed = makeRun(42);
    const events: string[] = [];
    const history = await resumed.distiller.fit(data, {
      epochs: 4,
      batchSize: 16,
      checkpoint: store,
      resume: true,
      onEvent: (e) => void (e.type === 'epoch-start' && events.push(`epoch ${e.epoch}`)),
    });
    expect(events).toEqual(['epoch 2', 'epoch 3']);
    expect(history.epochs.map((e) => e.epoch)).toEqual([0, 1, 2, 3]);
    const a = straight.student.getWeights().map((w) => Array.from(w.dataSync()));
    const b = resumed.student.getWeights().map((w) => Array.from(w.dataSync()));
    expect(b).toEqual(a);
    const straightState = straight.distiller.checkpoint();
    const resumedState = resumed.distiller.checkpoint();
    const [s1, s2] = await Promise.all([straightState, resumedState]);
    expect(Array.from(s2.plugins['runningSum']!.tensors[0]!.values)).toEqual(Array.from(s1.plugins['runningSum']!.tensors[0]!.values));
    expect(s2.optimizer.map((r) => Array.from(r.values))).toEqual(s1.optimizer.map((r) => Array.from(r.values)));
    straight.distiller.dispose();
    resumed.distiller.dispose();
    disposeData(data);
  });

  it('round-trips through bytes and rejects foreign or truncated files', async () => {
    const data = toyData(16, 6, 3, 6);
    const run = makeRun(1);
    await run.distiller.fit(data, { epochs: 1, batchSize: 8 });
    const checkpoint = await run.distiller.checkpoint();
    const bytes = encodeCheckpoint(checkpoint);
    expect(decodeCheckpoint(bytes)).toEqual(checkpoint);
    expect(() => decodeCheckpoint(new TextEncoder().encode('not a checkpoint at all'))).toThrow(/not a kd checkpoint/);
    expect(() => decodeCheckpoint(bytes.subarray(0, bytes.byteLength - 8))).toThrow(/truncated/);
    await writeFile(join(dir, 'junk.ckpt'), 'junk junk junk');
    await expect(fileCheckpointStore(join(dir, 'junk.ckpt')).load()).rejects.toThrow(/junk.ckpt is not a kd checkpoint/);
    expect(await fileCheckpointStore(join(dir, 'none.ckpt')).load()).toBeUndefined();
    run.distiller.dispose();
    disposeData(data);
  });

  it('fit probes the checkpoint directory and removes temporary files a killed save left behind', async () => {
    const data = toyData(16, 6, 3, 8);
    const sub = join(dir, 'killed');
    const path = join(sub, 'run.ckpt');
    await mkdir(sub, { recursive: true });
    // A save killed by SIGKILL: its process (a pid that cannot exist) is gone.
    const stale = `${path}.tmp-4194999-deadbeef`;
    // A save in progress in this process: kept.
    const live = `${path}.tmp-${process.pid}-cafe0001`;
    const other = join(sub, 'unrelated.tmp-1-x');
    for (const f of [stale, live, other]) await writeFile(f, 'partial');
    const run = makeRun(4);
    await run.distiller.fit(data, { epochs: 1, batchSize: 8, checkpoint: fileCheckpointStore(path) });
    expect((await readdir(sub)).sort()).toEqual(['run.ckpt', `run.ckpt.tmp-${process.pid}-cafe0001`, 'unrelated.tmp-1-x']);
    run.distiller.dispose();
    disposeData(data);
  });

  it('checkpointing and restoring leak no tensors; restore refuses a used optimizer', async () => {
    const data = toyData(16, 6, 3, 7);
    const store = memoryCheckpointStore();
    const run = makeRun(3);
    await run.distiller.fit(data, { epochs: 1, batchSize: 8, checkpoint: store });
    expect(store.saves).toBe(1);
    expect(await leakedTensors(() => run.distiller.fit(data, { epochs: 3, batchSize: 8, checkpoint: store }))).toBe(0);
    const saved = (await store.load())!;
    await expect(run.distiller.restore(saved)).rejects.toThrow(/fresh optimizer/);
    run.distiller.dispose();
    disposeData(data);
  });
});
