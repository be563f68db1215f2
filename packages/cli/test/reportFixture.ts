import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRandom } from '@kd/core';

/** What {@link writeSyntheticRun} writes, for the tests to compare against. */
export interface SyntheticRun {
  readonly directory: string;
  readonly terms: readonly string[];
  readonly epochs: number;
  readonly classes: number;
  readonly examples: number;
  readonly labels: number[];
  readonly student: number[][];
  readonly teacher?: number[][];
}

/** Options of {@link writeSyntheticRun}. */
export interface SyntheticRunOptions {
  /** Whether the run has a teacher (teacher logits and metrics). Default true. */
  readonly teacher?: boolean;
  readonly seed?: number;
  readonly epochs?: number;
  readonly examples?: number;
  readonly classes?: number;
  /** Class names to write into predictions.json (one per class); none by default. */
  readonly classNames?: readonly string[];
}

/** A standard-normal draw (Box-Muller) from a seeded generator. */
function gaussian(random: SeededRandom): number {
  const u = 1 - random.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.next());
}

/**
 * Writes a small run folder as `kd train` would (logs.jsonl with stage-tagged epoch-end events of
 * two terms plus other events, a resumed epoch logged twice, predictions.json, summary.json) into
 * a fresh temporary folder.
 */
export function writeSyntheticRun(options: SyntheticRunOptions = {}): SyntheticRun {
  const { teacher: withTeacher = true, seed = 7, epochs = 4, examples = 200, classes = 10, classNames } = options;
  const random = new SeededRandom(seed);
  const directory = mkdtempSync(join(tmpdir(), 'kd-report-run-'));
  const terms = withTeacher ? ['ce', 'kd'] : ['ce', 'l2'];

  const lines: string[] = [
    JSON.stringify({ stage: 'train', type: 'fit-start', epochs, startEpoch: 0, stepsPerEpoch: 5, description: 'synthetic' }),
  ];
  const epochLine = (epoch: number, scale: number) =>
    JSON.stringify({
      stage: 'train',
      type: 'epoch-end',
      epoch,
      epochs,
      logs: {
        epoch,
        loss: (2.3 / (epoch + 1)) * scale,
        terms: { [terms[0]!]: 2 / (epoch + 1), [terms[1]!]: 0.5 / (epoch + 1) },
        learningRate: 0.01,
        weights: { [terms[0]!]: 1, [terms[1]!]: 0.5 },
        seconds: 1.5,
        validation: { accuracy: 0.5 + 0.1 * epoch, loss: 1.5 - 0.2 * epoch },
      },
    });
  for (let epoch = 0; epoch < epochs; epoch++) {
    lines.push(JSON.stringify({ stage: 'train', type: 'epoch-start', epoch, epochs }));
    lines.push(epochLine(epoch, epoch === 1 ? 10 : 1)); // epoch 1's first line is superseded below
    lines.push(JSON.stringify({ stage: 'train', type: 'checkpoint', epoch, step: (epoch + 1) * 5 }));
  }
  // A resumed run appends epoch 1 again: the last line wins (scale 1, not 10).
  lines.push(epochLine(1, 1));
  writeFileSync(join(directory, 'logs.jsonl'), `${lines.join('\n')}\n`);

  const labels = Array.from({ length: examples }, () => random.int(classes));
  const teacherLogits = labels.map((label) => Array.from({ length: classes }, (_, c) => gaussian(random) + (c === label ? 3 : 0)));
  const student = teacherLogits.map((row) => row.map((z) => 0.6 * z + 0.8 * gaussian(random)));
  writeFileSync(
    join(directory, 'predictions.json'),
    JSON.stringify({ classes, ...(classNames ? { classNames } : {}), labels, student, ...(withTeacher ? { teacher: teacherLogits } : {}) }),
  );
  writeFileSync(
    join(directory, 'summary.json'),
    JSON.stringify({
      backend: 'cpu',
      wallSeconds: 75.5,
      student: { accuracy: 0.81, loss: 0.62 },
      ...(withTeacher ? { teacher: { accuracy: 0.9, loss: 0.35 } } : {}),
      best: { epoch: 3, metric: 'validation.accuracy', value: 0.8 },
      exports: [
        { form: 'float32', bytes: 402_000, accuracy: 0.81, latencyMs: 1.25 },
        { form: 'uint8', bytes: 101_000, accuracy: 0.805 },
      ],
    }),
  );
  return { directory, terms, epochs, classes, examples, labels, student, ...(withTeacher ? { teacher: teacherLogits } : {}) };
}
