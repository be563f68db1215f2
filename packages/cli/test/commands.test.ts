import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateSaved } from '../src/commands/evaluate';
import { precomputeTeacherFromConfig } from '../src/commands/precomputeTeacher';
import { trainFromConfig } from '../src/run/train';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const quiet = { log: () => undefined };
let dir: string;

const data = `
data:
  source: mnistDigits
  limit: { train: 1000, test: 200 }
`;
const teacherYaml = `seed: 1
backend: cpu
${data}
student: { builder: mlp, options: { name: teacher, hidden: [32] } }
methods: [{ method: hardLabel }]
training: { epochs: 2, batchSize: 50 }
`;
const distil = (teacher: string) => `seed: 4
backend: cpu
${data}
teacher: ${teacher}
student: { builder: mlp, options: { hidden: [12] } }
methods:
  - { method: hardLabel, weight: 0.5 }
  - { method: softTargets, temperature: 2, weight: 0.5 }
training: { epochs: 2, batchSize: 40 }
`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kd-commands-'));
  await writeFile(join(dir, 'teacher.yaml'), teacherYaml);
  await writeFile(join(dir, 'live.yaml'), distil('{ model: teacher-run/student }'));
  await writeFile(join(dir, 'stored.yaml'), distil('{ store: store }'));
  await trainFromConfig(join(dir, 'teacher.yaml'), { ...quiet, out: join(dir, 'teacher-run') });
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('kd precompute-teacher and a stored teacher', () => {
  it('a run from the precomputed store trains the same student bit for bit as the run with the live teacher', async () => {
    const stored = await precomputeTeacherFromConfig(join(dir, 'live.yaml'), { ...quiet, out: join(dir, 'store') });
    expect(stored.examples).toBe(1000);
    expect(existsSync(join(dir, 'store', 'manifest.json'))).toBe(true);
    const live = await trainFromConfig(join(dir, 'live.yaml'), { ...quiet, out: join(dir, 'live') });
    const fromStore = await trainFromConfig(join(dir, 'stored.yaml'), { ...quiet, out: join(dir, 'stored') });
    const weights = (run: string) => readFile(join(dir, run, 'student', 'weights.bin'));
    expect(Buffer.compare(await weights('live'), await weights('stored'))).toBe(0);
    expect(fromStore.student).toEqual(live.student);
    // A store holds outputs for the training examples only: the teacher is not evaluated on test.
    expect(fromStore.teacher).toBeUndefined();
    expect(live.teacher!.accuracy).toBeGreaterThan(0.5);
  }, 120_000);

  it('refuses a store made for other training examples (another seed draws other digits)', async () => {
    await writeFile(join(dir, 'stored-other.yaml'), distil('{ store: store }').replace('seed: 4', 'seed: 5'));
    await expect(trainFromConfig(join(dir, 'stored-other.yaml'), { ...quiet, out: join(dir, 'stored-other') })).rejects.toMatchObject({
      code: 'store-source-mismatch',
    });
  });

  it('refuses a config whose teacher is already a store', async () => {
    await expect(precomputeTeacherFromConfig(join(dir, 'stored.yaml'), { ...quiet, out: join(dir, 'again') })).rejects.toThrow(
      'stored.yaml: kd precompute-teacher needs a "teacher" model or ensemble (not a store)',
    );
  });
});

describe('an ensemble teacher and early stopping', () => {
  it('trains from an ensemble of saved models; early stopping ends the run after patience epochs', async () => {
    const yaml = distil('{ ensemble: [{ model: teacher-run/student }, { model: teacher-run/student/model.json }], mean: geometric }')
      .replace(
        'training: { epochs: 2, batchSize: 40 }',
        'training: { epochs: 6, batchSize: 40, earlyStopping: { patience: 1, minDelta: 1 } }',
      )
      .replace('  limit: { train: 1000, test: 200 }', '  limit: { train: 1000, test: 200 }\n  validation: { fraction: 0.2 }');
    await writeFile(join(dir, 'ensemble.yaml'), yaml);
    const summary = await trainFromConfig(join(dir, 'ensemble.yaml'), { ...quiet, out: join(dir, 'ensemble') });
    // No epoch can improve validation accuracy by more than 1: epoch 0 sets the mark, epoch 1 is the first without.
    expect(summary.stoppedEarly).toEqual({ stage: 'train', epoch: 1 });
    const epochs = readFileSync(join(dir, 'ensemble', 'logs.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((e) => e.type === 'epoch-end');
    expect(epochs.map((e) => e.logs.epoch)).toEqual([0, 1]);
    // Two copies of one model: the ensemble predicts what the model does.
    const single = JSON.parse(readFileSync(join(dir, 'live', 'summary.json'), 'utf8'));
    expect(summary.teacher!.accuracy).toBe(single.teacher.accuracy);
  }, 60_000);
});

describe('kd evaluate', () => {
  it("gives the run summary's test accuracy for its student, and the teacher's for the teacher", async () => {
    const summary = JSON.parse(readFileSync(join(dir, 'live', 'summary.json'), 'utf8'));
    const student = await evaluateSaved(join(dir, 'live.yaml'), join(dir, 'live', 'student', 'model.json'), 'test', () => undefined);
    expect(student).toEqual({ ...summary.student, examples: 200 });
    const teacher = await evaluateSaved(join(dir, 'live.yaml'), join(dir, 'teacher-run', 'student'), 'test', () => undefined);
    expect(teacher.accuracy).toBe(summary.teacher.accuracy);
    await expect(evaluateSaved(join(dir, 'live.yaml'), join(dir, 'live', 'student'), 'validation', () => undefined)).rejects.toThrow(
      'live.yaml: the data has no validation split',
    );
  }, 60_000);
});

describe('the kd bin', () => {
  beforeAll(() => {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: build @kd/cli first (pnpm build; pnpm test builds)`);
  });

  it('describe prints the formula; a bad config exits with status 2 and the coded message', async () => {
    const { stdout } = await run(process.execPath, [bin, 'describe', join(dir, 'live.yaml')]);
    expect(stdout).toContain('Loss = 0.5*ce + 0.5*kd(T=2)');
    await writeFile(join(dir, 'bad.yaml'), distil('{ model: teacher-run/student }').replace('softTargets', 'softTarget'));
    const failed = await run(process.execPath, [bin, 'train', join(dir, 'bad.yaml')]).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed?.code).toBe(2);
    expect(failed?.stderr).toContain('kd: bad.yaml: methods[1].method: unknown method "softTarget"; did you mean "softTargets"?');
    expect(failed?.stderr).toContain('[unknown-name]');
  }, 60_000);

  it('train prints JSON lines when stdout is not a terminal, says which backend and silences the tfjs banner', async () => {
    const out = join(dir, 'bin-run');
    const { stdout, stderr } = await run(process.execPath, [
      bin,
      'train',
      join(dir, 'live.yaml'),
      '--out',
      out,
      '--set',
      'training.epochs=1',
    ]);
    const events = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(events[0]).toMatchObject({ stage: 'train', type: 'fit-start', epochs: 1 });
    expect(events.filter((e) => e.type === 'epoch-end')).toHaveLength(1);
    expect(stderr).toMatch(/^Backend: /);
    expect(stderr).not.toContain('running TensorFlow.js in Node.js');
    expect(existsSync(join(out, 'summary.json'))).toBe(true);
    // --resume takes the folder alone: --set would change the run halfway.
    const refused = await run(process.execPath, [bin, 'train', '--resume', out, '--set', 'training.epochs=3']).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(refused?.code).toBe(2);
    expect(refused?.stderr).toContain('--resume takes the run folder only');
    expect(refused?.stderr).toContain('[bad-config]');
  }, 60_000);
});
