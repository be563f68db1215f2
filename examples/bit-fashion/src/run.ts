import { bitEvalPreprocess, bitFineTune, bitResNetSmall, countParams, type HyperRule, hyperRule } from '@kd/bit';
import { evaluateModel, type LabeledData, softTargets } from '@kd/core';
import { subset } from '@kd/data';
import { loadFashionMnist } from '@kd/data/node';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/** Options of {@link run}. */
export interface RunOptions {
  /** Training examples drawn (seeded) from the 60 000. */
  readonly trainSize: number;
  /** Test examples drawn (seeded) from the 10 000. */
  readonly testSize: number;
  /**
   * Scales the HyperRule's step boundaries (below 20 000 examples: 100/200/300/400/500 steps).
   * 1 = the rule exactly; the default run uses 0.4 (40/80/120/160/200 steps).
   */
  readonly stepsScale: number;
  /** Like `stepsScale`, for the teacher's fine-tuning (it needs more steps than the student). */
  readonly teacherStepsScale: number;
  /** Examples per step (the rule's 512 is too many for a CPU). */
  readonly batchSize: number;
  /** Square resize before the random crop; the HyperRule's 160 -> 128 is scaled to 32 -> 28. */
  readonly resize: number;
  readonly crop: number;
  /**
   * Base learning rate. The HyperRule's 0.003 assumes a PRE-TRAINED BiT model; this example's
   * teacher starts from random weights, so the default run raises it (0.05).
   */
  readonly baseLr: number;
  /** Softmax temperature of the KD term. */
  readonly temperature: number;
  readonly seed: number;
  readonly directory?: string;
  readonly verbose?: boolean;
}

/** One row of the result table. */
export interface Row {
  readonly model: string;
  readonly params: number;
  readonly steps: number;
  readonly accuracy: number;
  readonly seconds: number;
}

export interface RunResult {
  readonly rule: HyperRule;
  readonly teacher: Row;
  readonly scratch: Row;
  readonly distilled: Row;
  readonly table: string;
}

/** The student: a small CNN (conv8 - pool - conv16 - pool - dense), input `[crop, crop, 1]`. */
export function studentCnn(crop: number, seed: number, name: string): tfl.LayersModel {
  const init = (s: number) => tfl.initializers.heNormal({ seed: seed * 10 + s });
  return tfl.sequential({
    name,
    layers: [
      tfl.layers.conv2d({
        inputShape: [crop, crop, 1],
        filters: 8,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: init(1),
      }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(2) }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten({ name: `${name}_pool` }),
      tfl.layers.dense({ units: 10, kernelInitializer: init(3), name: `${name}_logits` }),
    ],
  });
}

/**
 * Fine-tunes a small BiT-style ResNet-v2 (GN + WS, zero head) on a Fashion-MNIST subset with the
 * BiT-HyperRule (SGD momentum 0.9, warm-up and /10 steps, BiT preprocessing; MixUp is off below
 * 20 000 examples), then trains the same small CNN twice with the same schedule and preprocessing:
 * from scratch, and distilled from the BiT teacher (KD at T, teacher and student see the same
 * augmented batch). Prints a table of test accuracies.
 */
export async function run(options: RunOptions): Promise<RunResult> {
  const log = (text: string) => {
    if (options.verbose ?? true) console.log(text);
  };
  const fashion = await loadFashionMnist(options.directory ? { directory: options.directory } : {});
  const train = subset(fashion.train, options.trainSize, options.seed);
  const testRaw = subset(fashion.test, options.testSize, options.seed + 1);
  tf.dispose([fashion.train.x, fashion.train.y, fashion.test.x, fashion.test.y]);

  const base = hyperRule({ trainSize: options.trainSize, imageSize: 28, stepsScale: options.stepsScale, baseLr: options.baseLr });
  // Explicitly scaled down for a CPU: 28x28 crops of 32x32 resizes instead of 128 of 160.
  const rule: HyperRule = { ...base, resize: options.resize, crop: options.crop };
  log(
    `BiT-HyperRule for ${options.trainSize} examples of 28x28: boundaries [${base.boundaries}] (stepsScale ${options.stepsScale}), ` +
      `base lr ${base.baseLr}, MixUp alpha ${base.mixupAlpha}, resize ${rule.resize} -> crop ${rule.crop} (rule: ${base.resize} -> ${base.crop}), batch ${options.batchSize}`,
  );
  const teacherRule: HyperRule = {
    ...hyperRule({ trainSize: options.trainSize, imageSize: 28, stepsScale: options.teacherStepsScale, baseLr: options.baseLr }),
    resize: options.resize,
    crop: options.crop,
  };
  log(`Teacher schedule: boundaries [${teacherRule.boundaries}] (stepsScale ${options.teacherStepsScale})`);
  const test: LabeledData = bitEvalPreprocess(testRaw, rule);
  const progress =
    (what: string, total = rule.totalSteps) =>
    async (event: { type: string; step?: number; loss?: number; learningRate?: number }) => {
      if (event.type === 'step-end' && (event.step! + 1) % 20 === 0) {
        log(`  ${what} step ${event.step! + 1}/${total} loss ${event.loss!.toFixed(4)} lr ${event.learningRate!.toExponential(2)}`);
      }
    };

  const teacher = bitResNetSmall({ classes: 10, rootStride: 2, zeroHead: true, seed: options.seed, name: 'bit_teacher' });
  log(`Fine-tuning the BiT-style teacher (${countParams(teacher).toLocaleString('en-US')} parameters)`);
  const t = await bitFineTune(teacher, train, teacherRule, {
    batchSize: options.batchSize,
    seed: options.seed,
    validation: test,
    onEvent: progress('teacher', teacherRule.totalSteps),
  });
  const teacherRow: Row = {
    model: 'BiT ResNet-v2 teacher',
    params: countParams(teacher),
    steps: t.steps,
    accuracy: t.validation!.accuracy,
    seconds: t.seconds,
  };

  const scratchModel = studentCnn(rule.crop, options.seed, 'scratch');
  log('Training the student from scratch');
  const s = await bitFineTune(scratchModel, train, rule, {
    batchSize: options.batchSize,
    seed: options.seed,
    validation: test,
    onEvent: progress('scratch'),
  });
  const scratchRow: Row = {
    model: 'student (scratch)',
    params: countParams(scratchModel),
    steps: s.steps,
    accuracy: s.validation!.accuracy,
    seconds: s.seconds,
  };

  const distilledModel = studentCnn(rule.crop, options.seed, 'distilled');
  log(`Distilling the teacher into the student (KD, T=${options.temperature})`);
  const d = await bitFineTune(distilledModel, train, rule, {
    batchSize: options.batchSize,
    seed: options.seed,
    validation: test,
    teacher,
    plugins: [softTargets({ temperature: options.temperature, weight: 0.9 })],
    onEvent: progress('kd'),
  });
  const distilledRow: Row = {
    model: `student (KD, T=${options.temperature})`,
    params: countParams(distilledModel),
    steps: d.steps,
    accuracy: d.validation!.accuracy,
    seconds: d.seconds,
  };
  const check = await evaluateModel(teacher, test);
  if (Math.abs(check.accuracy - teacherRow.accuracy) > 1e-9) throw new Error('teacher evaluation is not reproducible');

  const table = formatTable([teacherRow, scratchRow, distilledRow], options.testSize);
  log(`\n${table}`);
  tf.dispose([train.x, train.y, testRaw.x, testRaw.y, test.x, test.y]);
  teacher.dispose();
  scratchModel.dispose();
  distilledModel.dispose();
  return { rule, teacher: teacherRow, scratch: scratchRow, distilled: distilledRow, table };
}

function formatTable(rows: readonly Row[], testSize: number): string {
  const lines = [
    `| model | params | steps | test accuracy (${testSize}) | seconds |`,
    '|---|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.model} | ${r.params.toLocaleString('en-US')} | ${r.steps} | ${(100 * r.accuracy).toFixed(2)} % | ${r.seconds.toFixed(1)} |`,
    ),
  ];
  return lines.join('\n');
}
