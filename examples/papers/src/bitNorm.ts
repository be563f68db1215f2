import { bitResNetSmall, type Normalization } from '@kd/bit';
import { Distiller, hardLabel, sgd } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import { fashion, load, Results, type Row, row, SEEDS, type SeedResult, type Size, table, writeReport } from './common';

/** The sizes of experiment 3 (BiT's argument for GN + WS: BatchNorm degrades at small batches). */
export interface BitNormConfig {
  readonly trainSize: number;
  readonly testSize: number;
  /** Batch sizes compared, at the same number of steps. */
  readonly batchSizes: readonly number[];
  /** Steps of every run (the fixed budget). */
  readonly steps: number;
  /** SGD learning rate at batch 64, scaled linearly with the batch size (momentum 0.9). */
  readonly baseLr: number;
  /** `bitResNetSmall` width (root 16*w, stages 64/128/256 * w). */
  readonly width: number;
  /** Strides of the three stages (`[2, 2, 2]` is ~4x cheaper at 28x28 than `[1, 2, 2]`). */
  readonly strides: readonly [number, number, number];
}

/** `full`: all 60 000 examples, 1000 steps per run; `small`: seconds. */
export const BIT_NORM_SIZES: Readonly<Record<Size, BitNormConfig>> = {
  full: { trainSize: 60_000, testSize: 10_000, batchSizes: [1, 2, 4, 16, 64], steps: 1000, baseLr: 0.1, width: 1, strides: [2, 2, 2] },
  small: { trainSize: 256, testSize: 256, batchSizes: [4, 16, 64], steps: 4, baseLr: 0.1, width: 1, strides: [2, 2, 2] },
};

export interface BitNormResult {
  readonly config: BitNormConfig;
  readonly rows: readonly Row[];
  readonly table: string;
  readonly seconds: number;
  readonly load: string;
}

const NORMS: readonly Normalization[] = ['group-ws', 'batch'];

/**
 * Experiment 3: the same `bitResNetSmall` (root stride 2, units [1, 1, 1]) with GN + WS and with
 * BatchNorm, trained from scratch on Fashion-MNIST at each batch size for the same number of
 * steps (SGD momentum 0.9, learning rate `baseLr * batch / 64`), evaluated in inference mode (BN
 * with its moving statistics). Writes `<dir>/bit-norm.json` and `<dir>/bit-norm.md`; resumable.
 */
export async function runBitNorm(
  size: Size,
  dir: string,
  options: { directory?: string; log?: (s: string) => void } = {},
): Promise<BitNormResult> {
  const config = BIT_NORM_SIZES[size];
  const log = options.log ?? (() => {});
  const results = new Results(dir, { experiment: 'bit-norm', size, config });
  const started = performance.now();
  const before = load();
  const arms = new Map<string, SeedResult[]>();
  for (const seed of SEEDS) {
    const { train, test } = await fashion(config.trainSize, config.testSize, seed, options.directory);
    for (const batchSize of config.batchSizes) {
      for (const normalization of NORMS) {
        const arm = `${normalization === 'batch' ? 'BatchNorm' : 'GN + WS'}, batch ${batchSize}`;
        const model = bitResNetSmall({
          classes: 10,
          rootStride: 2,
          strides: config.strides,
          width: config.width,
          normalization,
          seed: seed * 100,
          name: 'resnet',
        });
        const optimizer = sgd({ learningRate: (config.baseLr * batchSize) / 64, momentum: 0.9 });
        const distiller = new Distiller({ student: model, optimizer, seed }).use(hardLabel());
        const epochs = Math.ceil((config.steps * batchSize) / config.trainSize);
        const result = await results.arm(`${normalization}-b${batchSize}-${seed}`, model, test, (store) =>
          distiller.fit(train, { epochs, batchSize, maxSteps: config.steps, checkpoint: store, resume: true }),
        );
        arms.set(arm, [...(arms.get(arm) ?? []), result]);
        log(`seed ${seed}: ${arm}: ${(100 * result.accuracy).toFixed(2)} %`);
        distiller.dispose();
        optimizer.dispose();
        model.dispose();
      }
    }
    tf.dispose([train.x, train.y, test.x, test.y]);
  }
  const rows = [...arms.entries()].map(([arm, r]) => row(arm, r));
  const seconds = (performance.now() - started) / 1000;
  const markdown = `${table(rows, config.testSize)}\n\nSize ${size}: ${config.trainSize} training examples, ${config.steps} steps per run, seeds ${SEEDS.join(', ')}; ${seconds.toFixed(1)} s wall; ${before} at the start, ${load()} at the end.`;
  await writeReport(dir, 'bit-norm', { size, config, seeds: SEEDS, rows, seconds, load: before }, markdown);
  return { config, rows, table: markdown, seconds, load: before };
}
