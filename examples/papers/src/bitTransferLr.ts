import { bitEvalPreprocess } from '@kd/bit';
import { Distiller, hardLabel, type LabeledData, SeededRandom, sgd } from '@kd/core';
import { take } from '@kd/data';
import { loadMnistDigits } from '@kd/data/node';
import * as tf from '@tensorflow/tfjs-core';
import {
  BIT_TRANSFER_SIZES,
  type BitTransferConfig,
  copyBody,
  downstreamResNet,
  downstreamRule,
  fewShot,
  fewShotPositions,
  fitWithRule,
  pretrainedUpstream,
  transferPreprocess,
} from './bitTransfer';
import { load, meanStd, Optimizers, Results, SEEDS, type Size, writeReport } from './common';
import type { RunOptions } from './experiment';

/** The learning-rate grid and validation split of the `bit-transfer` learning-rate choice. */
export interface BitTransferLrConfig {
  /** Base learning rates tried, for transfer and scratch alike. */
  readonly learningRates: readonly number[];
  /** Validation digits per seed, drawn from the digits' training split outside that seed's few-shot sets. */
  readonly validationSize: number;
}

export const BIT_TRANSFER_LR_SIZES: Readonly<Record<Size, BitTransferLrConfig>> = {
  full: { learningRates: [0.003, 0.01, 0.03, 0.1], validationSize: 1000 },
  small: { learningRates: [0.01, 0.03], validationSize: 50 },
};

/** One (kind, learning rate) row: the mean validation error per shot count, and over all of them. */
export interface LrRow {
  readonly kind: 'transfer' | 'scratch';
  readonly learningRate: number;
  /** Per shot count (config order): mean ± std validation error % over the seeds. */
  readonly errors: readonly { mean: number; std: number }[];
  /** The mean over shot counts and seeds (what the choice minimises). */
  readonly overall: number;
}

export interface BitTransferLrResult {
  readonly rows: readonly LrRow[];
  /** The chosen base learning rate per kind: the lowest overall validation error. */
  readonly chosen: { readonly transfer: number; readonly scratch: number };
  readonly table: string;
  readonly seconds: number;
}

/**
 * The validation digits of `seed`: `size` examples of the digits' training split that no few-shot
 * draw of that seed uses (the draws are nested, so outside the largest set is outside all), drawn
 * with a seeded permutation. The test split is never read.
 */
export function validationDigits(train: LabeledData, fewShotSet: readonly number[], size: number, seed: number): LabeledData {
  const used = new Set(fewShotSet);
  const order = new SeededRandom(seed * 1000 + 77).permutation(train.x.shape[0]!);
  const picked: number[] = [];
  for (const i of order) {
    if (!used.has(i)) picked.push(i);
    if (picked.length === size) break;
  }
  return take(train, picked);
}

/**
 * `bit-transfer`'s downstream learning rate chosen on validation data: for every base learning
 * rate of the grid, seed and shot count of `bit-transfer` at `size`, the transfer from the same
 * pre-trained upstream and the same ResNet from scratch, trained exactly as there (HyperRule
 * schedule, crops, batch), evaluated on validation digits outside the few-shot sets. Per kind the
 * rate with the lowest mean validation error wins. The upstream is pre-trained here again
 * (deterministic: the same model as `bit-transfer`'s on a backend). Writes
 * `<dir>/bit-transfer-lr.{json,md}`; resumable.
 */
export async function runBitTransferLr(size: Size, dir: string, options: RunOptions = {}): Promise<BitTransferLrResult> {
  const config: BitTransferConfig = BIT_TRANSFER_SIZES[size];
  const grid = BIT_TRANSFER_LR_SIZES[size];
  const log = options.log ?? (() => {});
  // The folder's configuration leaves out bit-transfer's own base learning rate, which these runs do not use.
  const { baseLr: _unused, ...runs } = config;
  const results = new Results(dir, { experiment: 'bit-transfer-lr', size, config: runs, grid });
  const started = performance.now();
  const before = load();
  // SGD with momentum 0.9; the HyperRule's schedule sets the rate each step.
  const optimizers = new Optimizers(() => sgd({ learningRate: 0, momentum: 0.9 }));
  const { model: upstream, result: upstreamResult } = await pretrainedUpstream(config, results, optimizers.next(), options.directory);
  log(`upstream (Fashion-MNIST): ${(100 * upstreamResult.accuracy).toFixed(2)} %`);
  const digits = loadMnistDigits();
  const errors = new Map<string, number[]>(); // `${kind} ${lr} ${shots}` -> per-seed validation error %
  const largest = Math.max(...config.shots);
  for (const seed of SEEDS) {
    const validationRaw = validationDigits(digits.train, fewShotPositions(digits.train, largest, seed), grid.validationSize, seed);
    const validation = bitEvalPreprocess(validationRaw, { resize: config.resize, crop: config.crop });
    for (const shots of config.shots) {
      const data = fewShot(digits.train, shots, seed);
      for (const learningRate of grid.learningRates) {
        const rule = downstreamRule(config, data.x.shape[0]!, config.stepsScale, learningRate);
        for (const kind of ['transfer', 'scratch'] as const) {
          const model = downstreamResNet(config, seed * 100);
          if (kind === 'transfer') copyBody(upstream, model);
          const distiller = new Distiller({ student: model, optimizer: optimizers.next(), seed })
            .use(transferPreprocess(config, false))
            .use(hardLabel());
          const result = await results.arm(`${kind}-${shots}-lr${learningRate}-${seed}`, model, validation, (store) =>
            fitWithRule(config, distiller, data, rule, store),
          );
          const key = `${kind} ${learningRate} ${shots}`;
          errors.set(key, [...(errors.get(key) ?? []), 100 * (1 - result.accuracy)]);
          log(`seed ${seed}: ${kind} ${shots}/class lr ${learningRate}: validation ${(100 * result.accuracy).toFixed(2)} %`);
          distiller.dispose();
          model.dispose();
        }
      }
      tf.dispose([data.x, data.y]);
    }
    tf.dispose([validationRaw.x, validationRaw.y, validation.x, validation.y]);
  }
  upstream.dispose();
  optimizers.dispose();
  tf.dispose([digits.train.x, digits.train.y, digits.test.x, digits.test.y]);

  const rows: LrRow[] = (['transfer', 'scratch'] as const).flatMap((kind) =>
    grid.learningRates.map((learningRate) => {
      const perShot = config.shots.map((shots) => errors.get(`${kind} ${learningRate} ${shots}`)!);
      return { kind, learningRate, errors: perShot.map((e) => meanStd(e)), overall: meanStd(perShot.flat()).mean };
    }),
  );
  const best = (kind: LrRow['kind']) => rows.filter((r) => r.kind === kind).reduce((a, b) => (b.overall < a.overall ? b : a)).learningRate;
  const chosen = { transfer: best('transfer'), scratch: best('scratch') };
  const seconds = (performance.now() - started) / 1000;
  const markdown = [
    `Validation error % (${grid.validationSize} digits per seed from the training split, outside the few-shot sets; mean ± std over seeds ${SEEDS.join(', ')}), the downstream runs of \`bit-transfer\` at each base learning rate:`,
    '',
    `| arm | base lr | ${config.shots.map((s) => `${s} / class`).join(' | ')} | mean |`,
    `|---|---:|${config.shots.map(() => '---:').join('|')}|---:|`,
    ...rows.map(
      (r) =>
        `| ${r.kind === 'transfer' ? 'BiT transfer' : 'scratch'} | ${r.learningRate} | ${r.errors.map((e) => `${e.mean.toFixed(2)} ± ${e.std.toFixed(2)}`).join(' | ')} | ${r.overall.toFixed(2)} |`,
    ),
    '',
    `Chosen (lowest mean validation error): transfer ${chosen.transfer}, scratch ${chosen.scratch}; \`bit-transfer\` uses ${config.baseLr} for both.`,
    '',
    `Upstream (Fashion-MNIST test, ${config.upstreamTestSize}): ${(100 * upstreamResult.accuracy).toFixed(2)} % accuracy. Size ${size}; ${seconds.toFixed(1)} s wall; ${before} at the start, ${load()} at the end.`,
  ].join('\n');
  await writeReport(dir, 'bit-transfer-lr', { size, config, grid, seeds: SEEDS, rows, chosen, seconds, load: before }, markdown);
  return { rows, chosen, table: markdown, seconds };
}
