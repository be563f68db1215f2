import { type DataSource, isDataSource, type LabeledData, lookupEntry, type MergedRegistry, SeededRandom, subsetSource } from '@kd/core';
import { take } from '@kd/data';
import * as tf from '@tensorflow/tfjs-core';
import type { ResolvedRunConfig } from '../config/resolveRunConfig';

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

const range = (n: number) => Int32Array.from({ length: n }, (_, i) => i);

/** Number of examples of a split. */
export function splitSize(split: Split): number {
  return isDataSource(split) ? split.size : split.x.shape[0]!;
}

/** The first `n` examples of a split (the whole split when it is not larger). */
function limit(split: Split, n: number | undefined, owned: LabeledData[]): Split {
  if (n === undefined || n >= splitSize(split)) return split;
  if (isDataSource(split)) return subsetSource(split, range(n));
  const part = take(split, range(n));
  owned.push(part);
  return part;
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
 * Opens the configured source, applies `data.limit` (the first examples of each split) and
 * `data.validation` (a seeded random fraction of the training split, or the test split).
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
    let train = limit(opened.train, limits.train, owned);
    let validation = opened.validation && limit(opened.validation, limits.validation, owned);
    const test = opened.test && limit(opened.test, limits.test, owned);
    const rule = config.data.validation;
    if (rule === 'test') validation = test;
    else if (rule !== 'none') {
      const n = splitSize(train);
      const count = Math.round(rule.fraction * n);
      const order = new SeededRandom(config.seed).permutation(n);
      const whole = train;
      validation = limit(pick(whole, order.slice(0, count), owned), limits.validation, owned);
      train = pick(whole, order.slice(count), owned);
    }
    const inputShape = isDataSource(train) ? [...train.exampleShape] : train.x.shape.slice(1);
    const classNames = opened.classNames ?? (isDataSource(train) ? train.classNames : undefined);
    let classes = classNames?.length;
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
