import { join, resolve } from 'node:path';
import { FULL_SIZES, QUICK_SIZES } from './models';
import type { HyperParameters, Method, QualityOptions } from './run';

/** `--name` of parsed flags as a number (`fallback` when absent); a non-number is an error naming the flag. */
export function numberFlags(values: Readonly<Record<string, string | boolean | undefined>>): (name: string, fallback: number) => number {
  return (name, fallback) => {
    const text = values[name];
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isFinite(value)) throw new Error(`--${name} must be a number, got "${text}"`);
    return value;
  };
}

/**
 * The quality bench's regime (ii) as in its README's medium run (3 rounds of 29 epochs of the
 * 1,800-example transfer set = 2,523 steps, teachers 5 epochs on the 54,000-example pool, CNN
 * pair), for the benches that reuse it (`src/store/accuracy.ts`, `src/crdQueue/main.ts`); `quick`:
 * tiny models and sizes. The teachers come from the quality bench's cache (`<teachers>/teachers/`).
 */
export function regimeTwoOptions(args: {
  readonly quick: boolean;
  readonly num: (name: string, fallback: number) => number;
  readonly seeds?: string;
  readonly teachers?: string;
  readonly methods: Method[];
  readonly hyper: HyperParameters;
  readonly backend: string;
}): QualityOptions {
  const { quick, num } = args;
  const here = resolve(import.meta.dirname, '..', '..');
  return {
    seeds: args.seeds ? args.seeds.split(',').map(Number) : quick ? [1] : [1, 2, 3],
    trainSize: num('train-size', quick ? 1200 : 54000),
    validationSize: num('validation-size', quick ? 300 : 6000),
    smallSize: num('small-size', quick ? 200 : 1800),
    omittedClass: 3,
    testSize: num('test-size', quick ? 500 : 10000),
    epochs: num('epochs', quick ? 2 : 3),
    teacherEpochs: num('teacher-epochs', quick ? 1 : 5),
    batchSize: 64,
    learningRate: 0.001,
    sizes: quick ? QUICK_SIZES : FULL_SIZES,
    pairs: ['cnn'],
    regimes: ['small'],
    methods: args.methods,
    hyper: args.hyper,
    // The quality bench's default output folder: its teacher cache (`teachers/`) is shared.
    out: resolve(args.teachers ?? join(here, quick ? 'out/quick' : 'out/full')),
    backend: args.backend,
    log: (line) => console.log(line),
  };
}
