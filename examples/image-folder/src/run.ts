import { join } from 'node:path';
import { adam, type DistillationPlugin, Distiller, evaluateModel, hardLabel, softTargets, type Teacher } from '@kd/core';
import { crd } from '@kd/crd';
import { imageFolder, loadFashionMnistSources } from '@kd/data/node';
import { precomputeTeacher, storedTeacher } from '@kd/teacher-store/node';
import * as tfl from '@tensorflow/tfjs-layers';
import { classFolder, writeImageFolder } from './writeFolder';

/** Options of {@link run}. */
export interface ImageFolderRunOptions {
  /** Where the PNG folders go (`<root>/train`, `<root>/test`). */
  readonly root: string;
  /** Fashion-MNIST training examples written and trained on. */
  readonly trainSize: number;
  readonly testSize: number;
  readonly teacherEpochs: number;
  readonly epochs: number;
  readonly batchSize: number;
  /** CRD's K (shared negatives). */
  readonly negatives: number;
  /** Decode workers of the image folders. */
  readonly workers: number;
  readonly seed: number;
  readonly verbose: boolean;
}

/** One row of the result table. */
export interface Row {
  readonly model: string;
  readonly parameters: number;
  readonly accuracy: number;
  readonly seconds: number;
}

/** conv(3x3, c1) - relu - pool - conv(3x3, c2) - relu - pool - dense(d) ("pool": CRD's tap) - dense(10). */
export function cnn(name: string, c1: number, c2: number, dense: number, seed: number): tfl.LayersModel {
  const he = (s: number) => tfl.initializers.heNormal({ seed: s });
  return tfl.sequential({
    name,
    layers: [
      tfl.layers.conv2d({
        inputShape: [28, 28, 1],
        filters: c1,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: he(seed),
      }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({ filters: c2, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: he(seed + 1) }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: dense, activation: 'relu', kernelInitializer: he(seed + 2), name: `${name}_pool` }),
      tfl.layers.dense({ units: 10, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 3 }), name: `${name}_logits` }),
    ],
  });
}

/**
 * Writes Fashion-MNIST's first `trainSize` / `testSize` images as PNG class folders, then trains,
 * streaming from the folders: a CNN teacher (hard labels), a small CNN student from scratch, and
 * the same student distilled with `1*ce + 1*kd(T=4) + 0.8*crd(shared)`; each evaluated on the test
 * folder. Leaves no tensors behind.
 */
export async function run(o: ImageFolderRunOptions): Promise<{ rows: Row[]; table: string; classNames: readonly string[] }> {
  const say = (text: string) => o.verbose && console.log(text);
  const fashion = await loadFashionMnistSources();
  const written =
    (await writeImageFolder(fashion.train, fashion.classNames, join(o.root, 'train'), o.trainSize)) +
    (await writeImageFolder(fashion.test, fashion.classNames, join(o.root, 'test'), o.testSize));
  say(written ? `wrote ${written} PNG files under ${o.root}` : `reusing the PNG folders under ${o.root}`);
  const train = await imageFolder(join(o.root, 'train'), { size: 28, channels: 1, workers: o.workers });
  const test = await imageFolder(join(o.root, 'test'), { size: 28, channels: 1, workers: o.workers });
  try {
    // Class folders sort by name, and each name starts with its label: folder order = label order.
    const expected = fashion.classNames.map((name, label) => classFolder(label, name));
    if (train.classNames.join() !== expected.join()) throw new Error(`unexpected class folders [${train.classNames.join(', ')}]`);
    const rows: Row[] = [];
    const fitAndEvaluate = async (
      model: tfl.LayersModel,
      label: string,
      epochs: number,
      plugins: DistillationPlugin<unknown>[],
      teacher?: Teacher,
    ) => {
      const optimizer = adam({ learningRate: 1e-3 });
      const distiller = new Distiller({ student: model, optimizer, seed: o.seed, ...(teacher ? { teacher } : {}) }).use(plugins);
      const started = Date.now();
      await distiller.fit(train, {
        epochs,
        batchSize: o.batchSize,
        onEvent: (e) => {
          if (e.type === 'fit-start' && e.teacherCache && !e.teacherCache.active)
            say(`${label}: teacher-output cache off (${e.teacherCache.reason})`);
          if (e.type === 'epoch-end')
            say(`${label}: epoch ${e.epoch + 1}/${epochs} loss ${e.logs.loss.toFixed(4)} (${e.logs.seconds.toFixed(1)} s)`);
        },
      });
      const seconds = (Date.now() - started) / 1000;
      const { accuracy } = await evaluateModel(model, test);
      distiller.dispose();
      optimizer.dispose();
      rows.push({ model: label, parameters: model.countParams(), accuracy, seconds });
      say(`${label}: test accuracy ${(accuracy * 100).toFixed(2)} % (${seconds.toFixed(1)} s)`);
    };
    const teacher = cnn('teacher', 32, 64, 128, 100 + o.seed);
    await fitAndEvaluate(teacher, 'teacher CNN', o.teacherEpochs, [hardLabel() as DistillationPlugin<unknown>]);
    const scratch = cnn('student', 8, 16, 32, 200 + o.seed);
    await fitAndEvaluate(scratch, 'student, scratch', o.epochs, [hardLabel() as DistillationPlugin<unknown>]);
    scratch.dispose();
    // The teacher runs once over the folder; its logits and CRD's tap go to disk as Arrow shards,
    // and the KD + CRD student distils from the store (no teacher forward pass while it trains).
    const storeDir = join(o.root, 'teacher-store');
    const precomputeStarted = Date.now();
    const manifest = await precomputeTeacher(teacher, train, storeDir, { taps: ['teacher_pool'], shardSize: 1024, batchSize: 256 });
    say(
      `teacher outputs stored: ${manifest.shards.length} shard(s), ${manifest.source.size} examples, in ${((Date.now() - precomputeStarted) / 1000).toFixed(1)} s`,
    );
    const stored = await storedTeacher(storeDir, { teacher });
    const student = cnn('student', 8, 16, 32, 200 + o.seed);
    await fitAndEvaluate(
      student,
      'student, KD + CRD',
      o.epochs,
      [
        hardLabel({ weight: 1 }),
        softTargets({ temperature: 4, weight: 1 }),
        crd({ student: 'student_pool', teacher: 'teacher_pool', negatives: o.negatives, featureDim: 64, sampling: 'shared', weight: 0.8 }),
      ] as DistillationPlugin<unknown>[],
      stored,
    );
    student.dispose();
    teacher.dispose();
    const table = [
      `Fashion-MNIST from PNG folders: ${train.size} training / ${test.size} test images, batch ${o.batchSize}, streamed (${o.workers} decode worker(s))`,
      '',
      '| model | parameters | test accuracy | train time |',
      '|---|---:|---:|---:|',
      ...rows.map(
        (r) => `| ${r.model} | ${r.parameters.toLocaleString('en-US')} | ${(r.accuracy * 100).toFixed(2)} % | ${r.seconds.toFixed(1)} s |`,
      ),
    ].join('\n');
    say(table);
    return { rows, table, classNames: train.classNames };
  } finally {
    await train.close();
    await test.close();
  }
}
