/**
 * CRD-EN (`crdEnsemble`) restores a checkpoint all or nothing: every critic's part is checked
 * before any is assigned, so a bad checkpoint leaves every critic (heads, banks or queues, Z) as
 * it was.
 */
import { isDistillationError, type PluginCheckpoint, SeededRandom, type SetupContext } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import '../test/helpers';
import { type CrdCommonOptions, type CrdQueueState, type CrdState, crdEnsemble } from './plugin';

const N = 24;

function setupContext(seed: number): SetupContext {
  return {
    dataSize: N,
    numClasses: 3,
    studentShapes: { s: [null, 6] },
    teacherShapes: { t0: [null, 5], t1: [null, 7] },
    labels: Int32Array.from({ length: N }, (_, i) => i % 3),
    random: new SeededRandom(seed),
  };
}

const members = [
  { student: 's', teacher: 't0' },
  { student: 's', teacher: 't1' },
];

/** Every value of the plugin's state (tensors by name, and each critic's Z), as plain data. */
// biome-ignore lint/suspicious/noExplicitAny: banks or queue state, read alike
function snapshot(state: any, saved: PluginCheckpoint) {
  return {
    tensors: Object.fromEntries(Object.entries(saved.tensors).map(([k, t]) => [k, t.arraySync()])),
    z: (state as CrdState | CrdQueueState).critics.map((c) => [c.zStudent, c.zTeacher]),
    ids: state.memory === 'queue' ? (state as CrdQueueState).critics.map((c) => [Array.from(c.queue.ids), c.queue.pointer]) : [],
  };
}

function expectRefused(load: () => void, fragment: string): void {
  let error: unknown;
  try {
    load();
  } catch (e) {
    error = e;
  }
  expect(isDistillationError(error, 'checkpoint-mismatch'), String(error)).toBe(true);
  expect((error as Error).message).toContain(fragment);
}

describe.each([
  { memory: 'banks' as const, last: '1/bank/teacher', options: { featureDim: 4, negatives: 8 } },
  {
    memory: 'queue' as const,
    last: '1/queue/teacher',
    options: { featureDim: 4, memory: 'queue' as const, queueSize: 8, classAware: false },
  },
])('crdEnsemble ($memory) loadState', ({ last, options }) => {
  const make = (seed: number) => {
    const plugin = crdEnsemble(members, options as CrdCommonOptions);
    const state = plugin.setup!(setupContext(seed)) as CrdState | CrdQueueState;
    return { plugin, state };
  };

  it('round-trips every critic', () => {
    const a = make(1);
    const b = make(2);
    a.state.critics.forEach((c, i) => {
      c.zStudent = 10 + i;
      c.zTeacher = 20 + i;
    });
    const saved = a.plugin.state!(a.state);
    b.plugin.loadState!(b.state, saved);
    expect(snapshot(b.state, b.plugin.state!(b.state))).toEqual(snapshot(a.state, saved));
    expect(b.state.critics.map((c) => c.zTeacher)).toEqual([20, 21]);
    a.plugin.dispose!(a.state);
    b.plugin.dispose!(b.state);
  });

  it('refuses a bad last piece (wrong shape) with checkpoint-mismatch and leaves every critic unchanged, leaking nothing', () => {
    const source = make(1);
    const target = make(2);
    source.state.critics.forEach((c, i) => {
      c.zStudent = 3 + i;
      c.zTeacher = 4 + i;
    });
    target.state.critics.forEach((c, i) => {
      c.zStudent = 30 + i;
      c.zTeacher = 40 + i;
    });
    const saved = source.plugin.state!(source.state);
    // The entries are in critic order: critic 0's parts, then critic 1's, its teacher-side memory last.
    expect(Object.keys(saved.tensors).at(-1)).toBe(last);
    expect(saved.tensors[last]!.shape[0]).toBeGreaterThan(1);
    const wrong = tf.zeros([saved.tensors[last]!.shape[0]! - 1, 4]);
    const bad: PluginCheckpoint = { ...saved, tensors: { ...saved.tensors, [last]: wrong } };
    const before = snapshot(target.state, target.plugin.state!(target.state));
    // Critic 0 of the source differs from the target's, so a piecewise restore would show.
    expect(snapshot(source.state, saved).tensors['0/embed_s/kernel']).not.toEqual(before.tensors['0/embed_s/kernel']);
    const tensors = tf.memory().numTensors;
    expectRefused(() => target.plugin.loadState!(target.state, bad), `critic 1`);
    expectRefused(() => target.plugin.loadState!(target.state, bad), `must be [${saved.tensors[last]!.shape[0]}, 4]`);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(snapshot(target.state, target.plugin.state!(target.state))).toEqual(before);
    wrong.dispose();
    source.plugin.dispose!(source.state);
    target.plugin.dispose!(target.state);
  });

  it("refuses a bad normaliser of the last critic before assigning the first critic's part", () => {
    const source = make(1);
    const target = make(2);
    const saved = source.plugin.state!(source.state);
    const json = saved.json as { z?: object[]; critics?: object[] };
    const list = (json.z ?? json.critics)!;
    const badList = [list[0], { ...list[1], zTeacher: Number.NaN }];
    const bad: PluginCheckpoint = { ...saved, json: json.z ? { z: badList } : { ...json, critics: badList } };
    const before = snapshot(target.state, target.plugin.state!(target.state));
    expectRefused(() => target.plugin.loadState!(target.state, bad), 'zTeacher must be null or a finite number > 0');
    expect(snapshot(target.state, target.plugin.state!(target.state))).toEqual(before);
    source.plugin.dispose!(source.state);
    target.plugin.dispose!(target.state);
  });
});

describe('crdEnsemble (banks) loadState: the list of normalisers', () => {
  it('refuses one of another number of critics', () => {
    const plugin = crdEnsemble(members, { featureDim: 4, negatives: 8 });
    const state = plugin.setup!(setupContext(1)) as CrdState;
    const saved = plugin.state!(state);
    const z = (saved.json as { z: object[] }).z;
    expectRefused(() => plugin.loadState!(state, { ...saved, json: { z: z.slice(0, 1) } }), 'not a list of 2 critic(s) (got 1)');
    plugin.dispose!(state);
  });
});
