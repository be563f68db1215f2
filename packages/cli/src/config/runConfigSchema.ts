import { BACKEND_ORDER } from '@kd/backend-gpu';
import { z } from 'zod';

const name = z.string({ message: 'must be a name' }).min(1, { message: 'must be a non-empty name' });
const path = z.string({ message: 'must be a path' }).min(1, { message: 'must be a non-empty path' });
const positiveInteger = z.number({ message: 'must be an integer > 0' }).int().positive();
const options = z.record(z.string(), z.unknown(), { message: 'must be an object of options' });

/**
 * A model of the run: a saved tfjs model (`model`: a `model.json` or its directory; a
 * GraphModel needs `@tensorflow/tfjs-converter`), or a registered builder by name with its
 * options (`builder`, `options`, `seed`). Exactly one of `model` and `builder`.
 */
export const modelSpecSchema = z.strictObject({
  model: path.optional(),
  builder: name.optional(),
  options: options.optional(),
  seed: z.number().int().optional(),
});

/**
 * The teacher: one model, an ensemble (`ensemble`: a list of models combined by `mean` at every
 * temperature), or stored outputs precomputed by `kd precompute-teacher` (`store`: the store's
 * directory; needs `@kd/teacher-store`).
 */
export const teacherSpecSchema = z.strictObject({
  ...modelSpecSchema.shape,
  ensemble: z.array(modelSpecSchema).min(2).optional(),
  mean: z.enum(['arithmetic', 'geometric']).optional(),
  store: path.optional(),
});

/** A method: `{ method: <registered name>, ...its options }` (checked by the method's own schema). */
export const methodSpecSchema = z.looseObject({ method: name });

/**
 * Which variables a stage trains: `all`, the student `{ upTo: layer }` or `{ layers: [...] }`
 * (each with every plugin variable), or `plugins` (the plugins' variables alone, the student
 * frozen: FT's paraphraser stage).
 */
export const trainableSchema = z.union([
  z.literal('all'),
  z.literal('plugins'),
  z.strictObject({ upTo: name }),
  z.strictObject({ layers: z.array(name).min(1) }),
]);

/** The optimizer: `{ name: <registered name>, ...its options }`. */
export const optimizerSpecSchema = z.looseObject({ name });

/** A learning-rate schedule: `{ schedule: <registered name>, warmupSteps?, ...its options }`, or a fixed rate. */
export const learningRateSpecSchema = z.union([
  z.number().finite().nonnegative(),
  z.looseObject({ schedule: name, warmupSteps: positiveInteger.optional() }),
]);

/** One stage of a staged run (FitNet's hint stage, FT's paraphraser, AB's initialisation). */
export const stageSpecSchema = z.strictObject({
  name,
  epochs: z.number({ message: 'must be an integer >= 0' }).int().nonnegative(),
  methods: z.array(methodSpecSchema).min(1),
  trainable: trainableSchema.default('all'),
  optimizer: optimizerSpecSchema.optional(),
  learningRate: learningRateSpecSchema.optional(),
});

/** The metric keep-best and early stopping watch: validation accuracy (higher is better) or loss (lower). */
export const metricSchema = z.enum(['accuracy', 'loss']);

/** The whole run config (`kd train run.yaml`). Keys are documented in the package README. */
export const runConfigSchema = z.strictObject({
  /** A name for the run (the report's title). Default: the config file's name. */
  name: name.optional(),
  /** Seed of everything random: data order, model initialisation, plugins. */
  seed: z.number().int().default(0),
  /** Backend: a name (`cpu`, `wasm`, `native`, `tfjs-node`, `tfjs-node-gpu`) or `auto` (the fastest installed). */
  backend: z.enum([...BACKEND_ORDER, 'auto']).default('auto'),
  /** Packages whose registries the run loads, besides `@kd/core`, `@kd/data/node` and `@kd/models`. */
  packages: z.array(name).default([]),
  data: z.strictObject({
    source: name,
    options: options.default({}),
    /**
     * The validation data: `{ fraction }` carved off the training split (seeded by the run's
     * seed), the test split (`test`), the source's own validation split (`source`), or none.
     */
    validation: z
      .union([z.strictObject({ fraction: z.number().gt(0).lt(1) }), z.literal('test'), z.literal('source'), z.literal('none')])
      .default('none'),
    /** Use only this many examples of each split, drawn at random with the run's seed (small runs). */
    limit: z
      .strictObject({ train: positiveInteger.optional(), validation: positiveInteger.optional(), test: positiveInteger.optional() })
      .optional(),
  }),
  teacher: teacherSpecSchema.optional(),
  student: modelSpecSchema,
  /** The methods of a one-stage run (exclusive with `stages`). */
  methods: z.array(methodSpecSchema).min(1).optional(),
  /** The stages of a staged run (exclusive with `methods`); they run in order on one student. */
  stages: z.array(stageSpecSchema).min(1).optional(),
  optimizer: optimizerSpecSchema.default({ name: 'adam', learningRate: 0.001 }),
  learningRate: learningRateSpecSchema.optional(),
  training: z
    .strictObject({
      /** Epochs of a one-stage run (stages give their own). */
      epochs: z.number().int().nonnegative().optional(),
      batchSize: positiveInteger.default(32),
      shuffle: z.boolean().default(true),
      checkpointEvery: positiveInteger.optional(),
      maxSteps: positiveInteger.optional(),
      keepBest: z.strictObject({ metric: metricSchema.default('accuracy') }).optional(),
      earlyStopping: z
        .strictObject({
          metric: metricSchema.default('accuracy'),
          patience: positiveInteger,
          minDelta: z.number().nonnegative().default(0),
        })
        .optional(),
    })
    .default({ batchSize: 32, shuffle: true }),
  /** Weight forms of the exported student besides `float32`, and whether to time each in headless Chromium. */
  export: z
    .strictObject({
      quantize: z.array(z.enum(['float16', 'uint8'])).default([]),
      browserLatency: z.boolean().default(false),
      /** Weights the quantised forms keep in float32 (names or trailing name segments); default: batch-norm moving variances. */
      keepFloat32: z.array(name).min(1).optional(),
    })
    .default({ quantize: [], browserLatency: false }),
});

/** A parsed run config (defaults applied). */
export type RunConfig = z.output<typeof runConfigSchema>;
/** A model spec of a parsed config. */
export type ModelSpec = z.output<typeof modelSpecSchema>;
/** A teacher spec of a parsed config. */
export type TeacherSpec = z.output<typeof teacherSpecSchema>;
/** A method spec of a parsed config. */
export type MethodSpec = z.output<typeof methodSpecSchema>;
/** A stage spec of a parsed config. */
export type StageSpec = z.output<typeof stageSpecSchema>;
/** A learning-rate spec. */
export type LearningRateSpec = z.output<typeof learningRateSpecSchema>;
