import { loadavg } from 'node:os';
import { adam, type DataSource, Distiller, hardLabel, type LabeledData, softTargets } from '@kd/core';
import { crd } from '@kd/crd';
import * as tf from '@tensorflow/tfjs-core';
import { cnn } from '../quality/models';

/** The run the bench times: KD + CRD (shared negatives) on a CNN pair over 32 x 32 x 3 images. */
export interface StreamRunOptions {
  readonly batchSize: number;
  /** CRD's K. */
  readonly negatives: number;
  readonly featureDim: number;
  /** Teacher and student sizes (conv1, conv2, dense). */
  readonly teacher: readonly [number, number, number];
  readonly student: readonly [number, number, number];
  readonly imageShape: readonly [number, number, number];
  readonly prefetch: number;
  readonly seed: number;
}

/** One Distiller of the bench's method (`1*ce + 1*kd(T=4) + 0.8*crd(shared)`), with its models. */
export function makeRun(o: StreamRunOptions) {
  const teacher = cnn('teacher', ...o.teacher, 100 + o.seed, o.imageShape);
  const student = cnn('student', ...o.student, 200 + o.seed, o.imageShape);
  const optimizer = adam({ learningRate: 1e-3 });
  // The cache is off on both sides: a source has none, so the in-memory run must run its teacher too.
  const distiller = new Distiller({ student, teacher, optimizer, seed: o.seed, teacherCache: 'off' }).use(
    hardLabel({ weight: 1 }),
    softTargets({ temperature: 4, weight: 1 }),
    crd({
      student: 'student_pool',
      teacher: 'teacher_pool',
      negatives: o.negatives,
      featureDim: o.featureDim,
      sampling: 'shared',
      weight: 0.8,
    }),
  );
  return {
    distiller,
    dispose() {
      distiller.dispose();
      optimizer.dispose();
      student.dispose();
      teacher.dispose();
    },
  };
}

const rssMiB = () => process.memoryUsage().rss / 2 ** 20;

/** What one streamed epoch measured. */
export interface EpochMeasurement {
  readonly examples: number;
  readonly steps: number;
  readonly seconds: number;
  readonly stepsPerSecond: number;
  /** RSS (MiB) after every 10,000 examples (and at the end). */
  readonly rss: readonly { readonly examples: number; readonly rssMiB: number }[];
  readonly peakRssMiB: number;
  /** `process.resourceUsage().maxRSS` at the end (MiB): the peak the kernel saw. */
  readonly maxRssMiB: number;
  readonly tensorsBefore: number;
  readonly tensorsAfter: number;
  readonly finalLoss: number;
  readonly load: readonly number[];
}

/** One epoch over `data`, sampling RSS every `every` examples; the tensors are counted before the models are built and after they are disposed. */
export async function measureEpoch(data: DataSource | LabeledData, o: StreamRunOptions, every = 10_000): Promise<EpochMeasurement> {
  const tensorsBefore = tf.memory().numTensors;
  const run = makeRun(o);
  const rss: { examples: number; rssMiB: number }[] = [{ examples: 0, rssMiB: rssMiB() }];
  const n = 'size' in data ? data.size : data.x.shape[0]!;
  let next = every;
  const started = performance.now();
  let steps = 0;
  const history = await run.distiller.fit(data, {
    epochs: 1,
    batchSize: o.batchSize,
    prefetch: o.prefetch,
    onEvent: (e) => {
      if (e.type !== 'step-end') return;
      steps++;
      const examples = Math.min(n, (e.stepInEpoch + 1) * o.batchSize);
      if (examples >= next) {
        rss.push({ examples, rssMiB: rssMiB() });
        next += every;
      }
    },
  });
  const seconds = (performance.now() - started) / 1000;
  rss.push({ examples: n, rssMiB: rssMiB() });
  run.dispose();
  return {
    examples: n,
    steps,
    seconds,
    stepsPerSecond: steps / seconds,
    rss,
    peakRssMiB: Math.max(...rss.map((r) => r.rssMiB)),
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    tensorsBefore,
    tensorsAfter: tf.memory().numTensors,
    finalLoss: history.epochs[0]!.loss,
    load: loadavg(),
  };
}

/** Steps per second of `steps` steps after `warmup` untimed ones, in a fresh Distiller. */
export async function timeSteps(data: DataSource | LabeledData, o: StreamRunOptions, steps: number, warmup: number): Promise<number> {
  const run = makeRun(o);
  let startedAt = 0;
  let endedAt = 0;
  await run.distiller.fit(data, {
    epochs: 1,
    batchSize: o.batchSize,
    prefetch: o.prefetch,
    maxSteps: warmup + steps,
    onEvent: (e) => {
      if (e.type !== 'step-end') return;
      if (e.step === warmup - 1) startedAt = performance.now();
      if (e.step === warmup + steps - 1) endedAt = performance.now();
    },
  });
  run.dispose();
  return steps / ((endedAt - startedAt) / 1000);
}

export const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
