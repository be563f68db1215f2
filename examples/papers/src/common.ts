import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { type Distiller, evaluateModel, adam as kdAdam, type LabeledData } from '@kd/core';
import { atomicWriteFile, fileCheckpointStore } from '@kd/core/node';
import { subset } from '@kd/data';
import { loadFashionMnist } from '@kd/data/node';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/** `small` runs in the tests (seconds); `full` is the documented size. */
export type Size = 'small' | 'full';

/** The seeds every table reports (mean ± std over them). */
export const SEEDS = [1, 2, 3] as const;

/** Training and test examples drawn (seeded) from Fashion-MNIST's 60 000 / 10 000 (all of them when the size is the whole set). */
export async function fashion(
  trainSize: number,
  testSize: number,
  seed: number,
  directory?: string,
): Promise<{ train: LabeledData; test: LabeledData }> {
  const all = await loadFashionMnist(directory ? { directory } : {});
  const train = trainSize >= all.train.x.shape[0]! ? all.train : subset(all.train, trainSize, seed);
  const test = testSize >= all.test.x.shape[0]! ? all.test : subset(all.test, testSize, seed + 1);
  if (train !== all.train) tf.dispose([all.train.x, all.train.y]);
  if (test !== all.test) tf.dispose([all.test.x, all.test.y]);
  return { train, test };
}

/** One arm's result for one seed. */
export interface SeedResult {
  readonly accuracy: number;
  readonly seconds: number;
}

/**
 * Results of one experiment, kept in `<dir>/results.json` after every arm, with each arm's
 * training checkpoint in `<dir>/checkpoints/`: a rerun of the same command skips finished arms
 * (their model is restored from the checkpoint) and resumes an interrupted one at its last epoch.
 */
export class Results {
  private readonly file: string;
  private readonly data: { config: unknown; arms: Record<string, SeedResult> };

  constructor(
    readonly dir: string,
    config: unknown,
  ) {
    mkdirSync(join(dir, 'checkpoints'), { recursive: true });
    this.file = join(dir, 'results.json');
    const saved = existsSync(this.file) ? (JSON.parse(readFileSync(this.file, 'utf8')) as typeof this.data) : undefined;
    if (saved && JSON.stringify(saved.config) !== JSON.stringify(config)) {
      throw new Error(`${this.file} was written by another configuration; use another --out or delete it`);
    }
    this.data = saved ?? { config, arms: {} };
  }

  /** The checkpoint store of arm `key`. */
  checkpoint(key: string) {
    return fileCheckpointStore(join(this.dir, 'checkpoints', `${key.replace(/[^A-Za-z0-9_.-]/g, '_')}.ckpt`));
  }

  /** The saved result of `key`, if its arm finished before. */
  get(key: string): SeedResult | undefined {
    return this.data.arms[key];
  }

  /**
   * Trains arm `key` (`fit` gets the arm's checkpoint store and resumes from it) and evaluates
   * `model` on `test`; a finished arm keeps its first wall time.
   */
  async arm(
    key: string,
    model: tfl.LayersModel,
    test: LabeledData,
    fit: (store: ReturnType<Results['checkpoint']>) => Promise<unknown>,
  ): Promise<SeedResult> {
    const started = performance.now();
    await fit(this.checkpoint(key));
    const seconds = (performance.now() - started) / 1000;
    const { accuracy } = await evaluateModel(model, test);
    const result = { accuracy, seconds: this.data.arms[key]?.seconds ?? seconds };
    this.data.arms[key] = result;
    await atomicWriteFile(this.file, `${JSON.stringify(this.data, null, 2)}\n`);
    return result;
  }
}

/** An arm's checkpoint store (see {@link Results.checkpoint}). */
export type Store = ReturnType<Results['checkpoint']>;

/** Optimizers made by `make`, one per arm, disposed together. */
export class Optimizers {
  private readonly made: tf.Optimizer[] = [];
  constructor(private readonly make: () => tf.Optimizer) {}
  next(): tf.Optimizer {
    const o = this.make();
    this.made.push(o);
    return o;
  }
  dispose(): void {
    for (const o of this.made) o.dispose();
  }
}

/** The Adam optimizers of one seed's arms (`@kd/core`'s `adam`), disposed together. */
export class AdamOptimizers extends Optimizers {
  constructor(learningRate = 1e-3) {
    super(() => kdAdam({ learningRate }));
  }
}

/** The `fit` of {@link Results.arm}: one seeded training run of `distiller`, resumable through the arm's checkpoint store. */
export function fitWith(distiller: Distiller, data: LabeledData, epochs: number, batchSize: number): (store: Store) => Promise<unknown> {
  return (store) => distiller.fit(data, { epochs, batchSize, checkpoint: store, resume: true });
}

/** Mean and sample standard deviation. */
export function meanStd(values: readonly number[]): { mean: number; std: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std = values.length > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1)) : 0;
  return { mean, std };
}

/** One table row: an arm over the seeds. */
export interface Row {
  readonly arm: string;
  readonly errors: readonly number[];
  readonly mean: number;
  readonly std: number;
  readonly seconds: number;
}

/** A row from per-seed results (test error = 1 - accuracy, in %). */
export function row(arm: string, results: readonly SeedResult[]): Row {
  const errors = results.map((r) => 100 * (1 - r.accuracy));
  return { arm, errors, ...meanStd(errors), seconds: results.reduce((a, r) => a + r.seconds, 0) };
}

/** A markdown table of rows: test error mean ± std, per seed, training seconds over the seeds. */
export function table(rows: readonly Row[], testSize: number): string {
  return [
    `| arm | test error % (${testSize}), mean ± std | per seed | train s (all seeds) |`,
    '|---|---:|---|---:|',
    ...rows.map(
      (r) =>
        `| ${r.arm} | ${r.mean.toFixed(2)} ± ${r.std.toFixed(2)} | ${r.errors.map((e) => e.toFixed(2)).join(' / ')} | ${r.seconds.toFixed(1)} |`,
    ),
  ].join('\n');
}

/** The machine's 1-minute load average and cores, for the tables' notes. */
export function load(): string {
  return `load ${loadavg()[0]!.toFixed(2)} on ${availableParallelism()} cores`;
}

/** Writes `<dir>/<name>.json` and `<dir>/<name>.md`. */
export async function writeReport(dir: string, name: string, json: unknown, markdown: string): Promise<void> {
  await atomicWriteFile(join(dir, `${name}.json`), `${JSON.stringify(json, null, 2)}\n`);
  await atomicWriteFile(join(dir, `${name}.md`), `${markdown}\n`);
}
