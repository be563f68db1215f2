import { type DistillationPlugin, Distiller, hardLabel, memoryCheckpointStore, sgd } from '@kd/core';
import { expectRefused } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { convNet, disposeData, leakedTensors, maxChange, mlp, snapshot, toyData } from '../test/helpers';
import { type CorrelationCongruenceState, correlationCongruence } from './correlationCongruence';
import { pkt } from './pkt';
import { rkd } from './rkd';
import { similarityPreserving } from './similarityPreserving';

type History = { readonly epochs: readonly { readonly terms: Readonly<Record<string, number>> }[] };

/** The state of the plugin in slot `index` of a Distiller (tests only). */
const slotState = <S>(distiller: Distiller, index: number): S => (distiller as unknown as { slots: { state: S }[] }).slots[index]!.state;

const teacherWeights = (teacher: tfl.LayersModel) => teacher.weights.map((w) => w.read() as tf.Variable);

/**
 * One fixed batch (shuffle off, the whole data set per step), so the term is measured on the same
 * examples every epoch: it must be finite, fall over a few steps, leave the teacher unchanged
 * and leak nothing (after the first fit, which sets the plugin up).
 */
async function trainsOnFixedData(
  plugin: DistillationPlugin<unknown>,
  term: string,
  models: { student: tfl.LayersModel; teacher: tfl.LayersModel },
  data: { x: tf.Tensor; y: tf.Tensor1D },
  rate: number,
  expectedDescription: string,
  afterSetup?: (distiller: Distiller) => void,
): Promise<{ first: number; last: number; distiller: Distiller }> {
  const { student, teacher } = models;
  const distiller = new Distiller({ student, teacher, optimizer: tf.train.sgd(rate), seed: 4 }).use(plugin);
  expect(distiller.describe()).toBe(expectedDescription);
  const n = data.x.shape[0]!;
  const teacherStart = snapshot(teacherWeights(teacher));
  const first = ((await distiller.fit(data, { epochs: 1, batchSize: n, shuffle: false })) as History).epochs[0]!.terms[term]!;
  afterSetup?.(distiller);
  let history: History | undefined;
  const leaked = await leakedTensors(async () => {
    history = (await distiller.fit(data, { epochs: 8, batchSize: n, shuffle: false })) as History;
  });
  expect(leaked, 'tensors leaked by 7 more epochs').toBe(0);
  const values = history!.epochs.map((e) => e.terms[term]!);
  expect(values.every(Number.isFinite)).toBe(true);
  const last = values.at(-1)!;
  expect(Number.isFinite(first)).toBe(true);
  expect(last).toBeLessThan(first);
  expect(maxChange(teacherStart, teacherWeights(teacher)), 'the teacher is not trained').toBe(0);
  return { first, last, distiller };
}

describe('similarityPreserving plugin', () => {
  it('vectors of different widths: the sp term falls on fixed data, leaks nothing, leaves the teacher alone', async () => {
    const data = toyData(16, [10], 3, 1);
    const models = { teacher: mlp(10, [24, 16], 3, 10, 'spt'), student: mlp(10, [8, 6], 3, 20, 'sps') };
    const plugin = similarityPreserving({ student: 'sps_h2', teacher: 'spt_h2' });
    const { first, last, distiller } = await trainsOnFixedData(plugin, 'sp', models, data, 0.001, 'Loss = 3000*sp');
    expect(last).toBeLessThan(first * 0.95);
    distiller.dispose();
    disposeData(data);
  });

  it('NHWC maps (student 4x4x2 against teacher 4x4x3) train too', async () => {
    const data = toyData(8, [4, 4, 1], 2, 2);
    const models = { teacher: convNet(4, 3, 2, 30, 'spct'), student: convNet(4, 2, 2, 40, 'spcs') };
    const plugin = similarityPreserving({ student: 'spcs_map', teacher: 'spct_map', weight: 10 });
    const { distiller } = await trainsOnFixedData(plugin, 'sp', models, data, 0.05, 'Loss = 10*sp');
    distiller.dispose();
    disposeData(data);
  });
});

describe('rkd plugin', () => {
  it('the rkd term (25 * distance + 50 * angle) falls on fixed data and leaks nothing', async () => {
    const data = toyData(16, [10], 3, 3);
    const models = { teacher: mlp(10, [24, 16], 3, 50, 'rkt'), student: mlp(10, [8, 6], 3, 60, 'rks') };
    const plugin = rkd({ student: 'rks_h2', teacher: 'rkt_h2' });
    const { first, last, distiller } = await trainsOnFixedData(plugin, 'rkd', models, data, 0.01, 'Loss = 1*rkd');
    expect(last).toBeLessThan(first * 0.95);
    distiller.dispose();
    disposeData(data);
  });

  it('non-default term weights show in describe()', () => {
    const plugin = rkd({ student: 'a', teacher: 'b', angleWeight: 0, weight: 2 });
    expect(plugin.label).toBe('rkd(distance=25,angle=0)');
    expect(plugin.weight).toBe(2);
  });
});

describe('pkt plugin', () => {
  it('the pkt term falls on fixed data and leaks nothing; default weight 30000', async () => {
    const data = toyData(16, [10], 3, 5);
    const models = { teacher: mlp(10, [24, 16], 3, 70, 'pkt_t'), student: mlp(10, [8, 6], 3, 80, 'pkt_s') };
    const plugin = pkt({ student: 'pkt_s_h2', teacher: 'pkt_t_h2' });
    const { first, last, distiller } = await trainsOnFixedData(plugin, 'pkt', models, data, 0.0005, 'Loss = 30000*pkt');
    expect(last).toBeLessThan(first * 0.95);
    distiller.dispose();
    disposeData(data);
  });
});

describe('correlationCongruence plugin', () => {
  it('trains both heads with the student (the teacher network stays frozen); the cc term falls; leaks nothing', async () => {
    const data = toyData(16, [10], 3, 7);
    const models = { teacher: mlp(10, [24, 16], 3, 90, 'cct'), student: mlp(10, [8, 6], 3, 100, 'ccs') };
    const plugin = correlationCongruence({ student: 'ccs_h2', teacher: 'cct_h2', embeddingSize: 4, weight: 1 });
    let heads = { student: [] as Float32Array[], teacher: [] as Float32Array[] };
    const {
      first,
      last,
      distiller: measured,
    } = await trainsOnFixedData(plugin, 'cc', models, data, 0.01, 'Loss = 1*cc', (d) => {
      const state = slotState<CorrelationCongruenceState>(d, 0);
      expect([state.studentHead.kernel.shape, state.teacherHead.kernel.shape]).toEqual([
        [6, 4],
        [16, 4],
      ]);
      expect(plugin.variables!(state)).toHaveLength(4);
      heads = { student: snapshot(state.studentHead.variables), teacher: snapshot(state.teacherHead.variables) };
    });
    expect(last).toBeLessThan(first * 0.95);
    const trained = slotState<CorrelationCongruenceState>(measured, 0);
    expect(maxChange(heads.teacher, trained.teacherHead.variables), 'the teacher head trains').toBeGreaterThan(1e-4);
    expect(maxChange(heads.student, trained.studentHead.variables), 'the student head trains').toBeGreaterThan(1e-4);
    const before = tf.memory().numTensors;
    measured.dispose();
    expect(before - tf.memory().numTensors, 'dispose frees at least the 4 head variables').toBeGreaterThanOrEqual(4);
    disposeData(data);
  });

  it('state()/loadState() round-trips both heads exactly; a bad checkpoint changes nothing', async () => {
    const data = toyData(8, [4, 4, 1], 2, 8);
    const models = { teacher: convNet(4, 3, 2, 110, 'cst'), student: convNet(4, 2, 2, 120, 'css') };
    const plugin = correlationCongruence({ student: 'css_map', teacher: 'cst_map', embeddingSize: 5, normalize: true });
    const distiller = new Distiller({ ...models, optimizer: tf.train.sgd(0.05), seed: 9 }).use(plugin);
    await distiller.fit(data, { epochs: 1, batchSize: 4 });
    const state = slotState<CorrelationCongruenceState>(distiller, 0);
    expect(state.studentHead.kernel.shape).toEqual([32, 5]); // the 4x4x2 map, flattened
    const saved = plugin.state!(state);
    expect(Object.keys(saved.tensors)).toEqual(['student/kernel', 'student/bias', 'teacher/kernel', 'teacher/bias']);
    expect(saved.json).toEqual({ embeddingSize: 5, normalize: true });
    const copies = Object.fromEntries(Object.entries(saved.tensors).map(([k, t]) => [k, tf.clone(t)]));
    const values = Object.fromEntries(Object.entries(copies).map(([k, t]) => [k, Array.from(t.dataSync())]));
    await distiller.fit(data, { epochs: 3, batchSize: 4 });
    expect(Array.from(state.studentHead.kernel.dataSync())).not.toEqual(values['student/kernel']);
    const leaked = await leakedTensors(() => plugin.loadState!(state, { tensors: copies, json: saved.json }));
    expect(leaked).toBe(0);
    const loaded = plugin.state!(state).tensors;
    for (const [k, v] of Object.entries(values)) expect(Array.from(loaded[k]!.dataSync()), k).toEqual(v);
    tf.dispose(Object.values(copies)); // the heads hold copies of their own
    expect(Array.from(state.teacherHead.bias.dataSync())).toEqual(values['teacher/bias']);

    const current = snapshot([...state.studentHead.variables, ...state.teacherHead.variables]);
    const wrong = tf.zeros([3, 5]);
    const good = Object.fromEntries(Object.entries(plugin.state!(state).tensors).map(([k, t]) => [k, tf.clone(t)]));
    // the student head's new weights fit, the teacher kernel does not: nothing may change
    const zeroKernel = tf.zerosLike(good['student/kernel']!);
    await expectRefused(
      () => plugin.loadState!(state, { tensors: { ...good, 'student/kernel': zeroKernel, 'teacher/kernel': wrong } }),
      'checkpoint-mismatch',
      'EmbeddingHead: kernel must be float32 [48, 5], got float32 [3,5]',
    );
    await expectRefused(
      () => plugin.loadState!(state, { tensors: { 'student/kernel': good['student/kernel']! } }),
      'checkpoint-mismatch',
      'lacks the head weights student/bias, teacher/kernel, teacher/bias',
    );
    await expectRefused(
      () => plugin.loadState!(state, { tensors: good, json: { embeddingSize: 5, normalize: false } }),
      'checkpoint-mismatch',
      'trained with normalize: false, this plugin has normalize: true',
    );
    expect(maxChange(current, [...state.studentHead.variables, ...state.teacherHead.variables])).toBe(0);
    tf.dispose([wrong, zeroKernel, ...Object.values(good)]);
    distiller.dispose();
    disposeData(data);
  });

  it('a run resumed from a checkpoint ends bit-identical to an uninterrupted one (student and both heads)', async () => {
    const data = toyData(24, [10], 3, 11);
    const build = () => {
      const teacher = mlp(10, [12], 3, 130, 'crt');
      const student = mlp(10, [6], 3, 140, 'crs');
      const distiller = new Distiller({ student, teacher, optimizer: sgd({ learningRate: 0.05, momentum: 0.9 }), seed: 12 })
        .use(hardLabel())
        .use(correlationCongruence({ student: 'crs_h1', teacher: 'crt_h1', embeddingSize: 3, weight: 0.5 }));
      return { student, distiller };
    };
    const weightsOf = (run: ReturnType<typeof build>) => [
      ...run.student.getWeights().map((w) => Array.from(w.dataSync())),
      ...(() => {
        const s = slotState<CorrelationCongruenceState>(run.distiller, 1);
        return [...s.studentHead.variables, ...s.teacherHead.variables].map((v) => Array.from(v.dataSync()));
      })(),
    ];
    const whole = build();
    await whole.distiller.fit(data, { epochs: 4, batchSize: 8 });
    const expected = weightsOf(whole);
    whole.distiller.dispose();

    const store = memoryCheckpointStore();
    const interrupted = build();
    await interrupted.distiller.fit(data, { epochs: 2, batchSize: 8, checkpoint: store });
    interrupted.distiller.dispose();
    const resumed = build();
    await resumed.distiller.fit(data, { epochs: 4, batchSize: 8, checkpoint: store, resume: true });
    const actual = weightsOf(resumed);
    expect(actual).toEqual(expected);
    resumed.distiller.dispose();
    disposeData(data);
  });
});
