import { type DataSource, isDataSource, type LabeledData, lookupEntry, type MergedRegistry, SeededRandom, subsetSource } from '@kd/core';
import { take } from '@kd/data';
import * as tf from '@tensorflow/tfjs-core';
import type { ResolvedRunConfig } from '../config/resolveRunConfig';
import { CliError } from '../errors';

/** Training data of any kind the Distiller takes. */
export type Split = LabeledData | DataSource;

/** The run's data, ready for training, with what the model builders need to know. */
export interface RunData {
  readonly train: Split;
  readonly validation?: Split;
  readonly test?: Split;
  readonly classes: number;
  readonly classNames?: readonly string[];
  /** Example shape without the batch axis. */
  readonly inputShape: readonly number[];
  /** Frees every tensor and handle the data holds. */
  dispose(): void;
}

/** Number of examples of a split. */
export function splitSize(split: Split): number {
  return isDataSource(split) ? split.size : split.x.shape[0]!;
}

/**
 * `n` examples of a split drawn at random (seeded; kept in the split's order), or the whole split
 * when it is not larger. Not the first `n`: sources are often sorted by class (the MNIST digits
 * are), and their first examples would all be one class.
 */
function limit(split: Split, n: number | undefined, seed: number, owned: LabeledData[]): Split {
  if (n === undefined || n >= splitSize(split)) return split;
  const positions = new SeededRandom(seed).permutation(splitSize(split)).slice(0, n).sort();
  return pick(split, positions, owned);
}

function pick(split: Split, positions: Int32Array, owned: LabeledData[]): Split {
  if (isDataSource(split)) return subsetSource(split, positions);
  const part = take(split, positions);
  owned.push(part);
  return part;
}

async function labelsOf(split: Split): Promise<Int32Array | undefined> {
  if (isDataSource(split)) return split.labels;
  return Int32Array.from(await split.y.data());
}

/**
 * Opens the configured source, applies `data.limit` (a seeded random subset of each split) and
 * `data.validation`: a seeded random fraction of the training split, the test split, the
 * source's own validation split (`source`), or none (`none`: a source's own validation split is
 * then not used).
 */
export async function buildData(
  config: ResolvedRunConfig,
  registry: MergedRegistry,
  baseDirectory: string,
  where: string,
): Promise<RunData> {
  const entry = lookupEntry(registry, 'sources', config.data.source, `${where}: data.source`);
  const opened = await entry.create(config.data.options, { baseDirectory });
  const owned: LabeledData[] = [];
  const limits = config.data.limit ?? {};
  try {
    let train = limit(opened.train, limits.train, config.seed, owned);
    const test = opened.test && limit(opened.test, limits.test, config.seed + 2, owned);
    const rule = config.data.validation;
    // A source's own validation split is used when the config says 'source', never otherwise.
    let validation: Split | undefined;
    if (rule === 'source') {
      if (!opened.validation) {
        throw new CliError(
          'bad-config',
          `${where}: data.validation is 'source', but source "${config.data.source}" has no validation split (use { fraction } or 'test')`,
        );
      }
      validation = limit(opened.validation, limits.validation, config.seed + 1, owned);
    } else if (rule === 'test') {
      if (!test)
        throw new CliError('bad-config', `${where}: data.validation is 'test', but source "${config.data.source}" has no test split`);
      validation = test;
    } else if (rule !== 'none') {
      const n = splitSize(train);
      const count = Math.round(rule.fraction * n);
      if (count < 1 || count > n - 1) {
        throw new CliError(
          'bad-config',
          `${where}: data.validation.fraction ${rule.fraction} of ${n} training examples leaves ${count} for validation and ${n - count} for training; both need at least one`,
        );
      }
      const order = new SeededRandom(config.seed).permutation(n);
      const whole = train;
      validation = limit(pick(whole, order.slice(0, count).sort(), owned), limits.validation, config.seed + 1, owned);
      train = pick(whole, order.slice(count).sort(), owned);
      // A limited copy made here is not needed once both parts are taken (the source's own split stays with the source).
      const at = owned.indexOf(whole as LabeledData);
      if (at >= 0) {
        owned.splice(at, 1);
        tf.dispose([(whole as LabeledData).x, (whole as LabeledData).y]);
      }
    }
    const inputShape = isDataSource(train) ? [...train.exampleShape] : train.x.shape.slice(1);
    const classNames = opened.classNames ?? (isDataSource(train) ? train.classNames : undefined);
    // A source that declares its classes is believed (a limited split may miss some).
    const declared = (opened.train as { numClasses?: unknown }).numClasses;
    let classes = typeof declared === 'number' ? declared : classNames?.length;
    if (classes === undefined) {
      let max = -1;
      for (const split of [train, validation, test]) {
        const labels = split && (await labelsOf(split));
        if (labels) for (const label of labels) max = Math.max(max, label);
      }
      classes = max + 1;
    }
    return {
      train,
      ...(validation ? { validation } : {}),
      ...(test ? { test } : {}),
      classes,
      ...(classNames ? { classNames } : {}),
      inputShape,
      dispose() {
        for (const part of owned) tf.dispose([part.x, part.y]);
        opened.dispose?.();
      },
    };
  } catch (error) {
    for (const part of owned) tf.dispose([part.x, part.y]);
    opened.dispose?.();
    throw error;
  }
}
