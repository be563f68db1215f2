import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeRun, trainFromConfig } from '@kd/cli';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Every config of this folder at a small size (2,000 digits, 1-2 epochs per stage, a smaller teacher, the wasm backend),
// overridden with --set as a user would: they must run as written.
const here = fileURLToPath(new URL('..', import.meta.url));
const small = ['backend=wasm', 'data.limit.train=2000', 'data.limit.test=200'];
const quiet = { log: () => undefined };
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kd-configs-'));
  await trainFromConfig(join(here, 'teacher.yaml'), {
    ...quiet,
    out: join(dir, 'teacher'),
    overrides: [...small, 'training.epochs=3', 'student.options.filters=[16, 32]', 'student.options.dense=64'],
  });
}, 240_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const families: [string, string[], string[]][] = [
  ['kd.yaml', ['training.epochs=2'], ['ce', 'kd']],
  ['logits.yaml', ['training.epochs=2'], ['ce', 'dkd']],
  ['features.yaml', ['stages[0].epochs=1', 'stages[1].epochs=2'], ['ce', 'kd']],
  ['ft.yaml', ['stages[0].epochs=1', 'stages[1].epochs=2'], ['ce', 'ft']],
  ['relational.yaml', ['training.epochs=2'], ['ce', 'rkd']],
  ['contrastive.yaml', ['training.epochs=2', 'methods[2].negatives=256'], ['ce', 'kd', 'crd']],
];

describe('examples/configs', () => {
  it.each(families)('%s trains as written (small size) and describes itself', async (file, overrides, terms) => {
    const teacher = `teacher.model=${join(dir, 'teacher', 'student', 'model.json')}`;
    const text = await describeRun(join(here, file), [...small, teacher, ...overrides]);
    expect(text).toContain('Loss = ');
    const before = tf.memory().numTensors;
    const summary = await trainFromConfig(join(here, file), {
      ...quiet,
      out: join(dir, file),
      overrides: [...small, teacher, ...overrides],
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(summary.student.accuracy).toBeGreaterThan(0.3);
    const last = readFileSync(join(dir, file, 'logs.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((e) => e.type === 'epoch-end')
      .at(-1);
    expect(Object.keys(last.logs.terms).sort()).toEqual([...terms].sort());
    for (const value of Object.values(last.logs.terms)) expect(Number.isFinite(value)).toBe(true);
  });
});
