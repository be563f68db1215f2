/**
 * README snippets of the feature-map methods: every block between `// snippet:<name>` and
 * `// end snippet` below is, line for line (indentation aside), the code of the README.md block
 * marked `<!-- snippet:<name> -->` after its import lines; this file runs each one, and checks
 * that the README's import lines name real exports. Edit both together.
 */
import '@tensorflow/tfjs-backend-cpu';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as core from '@kd/core';
import { Distiller, fitStages, hardLabel, softTargets, trainStudentUpTo } from '@kd/core';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import * as fitnetPackage from '../src/index';
import {
  activationBoundary,
  factorTransfer,
  flowOfSolution,
  neuronSelectivityTransfer,
  Paraphraser,
  paraphraserTraining,
  variationalInformation,
} from '../src/index';

// snippet:setup
await tf.setBackend('cpu');

// conv 3x3 layers <name>_conv1, _conv2 (pre-activation), each followed by a ReLU layer <name>_relu1, _relu2
function convNet(name: string, filters: number[], strides: number[]): tfl.LayersModel {
  const m = tfl.sequential({ name });
  filters.forEach((f, i) => {
    const first = i === 0 ? { inputShape: [8, 8, 1] } : {};
    m.add(tfl.layers.conv2d({ ...first, filters: f, kernelSize: 3, strides: strides[i], padding: 'same', name: `${name}_conv${i + 1}` }));
    m.add(tfl.layers.reLU({ name: `${name}_relu${i + 1}` }));
  });
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 10, name: `${name}_logits` }));
  return m;
}
const teacher = convNet('teacher', [16, 32], [1, 2]); // teacher_relu1 [8, 8, 16], teacher_relu2 [4, 4, 32]
const student = convNet('student', [8, 16], [2, 1]); // student_relu1 [4, 4, 8], student_relu2 [4, 4, 16]
const x = tf.randomNormal([32, 8, 8, 1]);
const y = tf.randomUniform([32], 0, 10, 'int32') as tf.Tensor1D;
// end snippet

const readmePath = fileURLToPath(new URL('../README.md', import.meta.url));
const selfPath = fileURLToPath(import.meta.url);
const lines = (code: string) =>
  code
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);

/** The README's marked blocks: name -> { imports, body lines }. */
function readmeSnippets(): Map<string, { imports: string[]; body: string[] }> {
  const out = new Map<string, { imports: string[]; body: string[] }>();
  for (const m of readFileSync(readmePath, 'utf8').matchAll(/<!-- snippet:(\w+) -->\n```ts\n([\s\S]*?)```/g)) {
    const all = lines(m[2]!);
    out.set(m[1]!, { imports: all.filter((l) => l.startsWith('import ')), body: all.filter((l) => !l.startsWith('import ')) });
  }
  return out;
}

/** This file's marked blocks: name -> body lines. */
function ownSnippets(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of readFileSync(selfPath, 'utf8').matchAll(/\/\/ snippet:(\w+)\n([\s\S]*?)\n\s*\/\/ end snippet/g))
    out.set(m[1]!, lines(m[2]!));
  return out;
}

describe('README snippets of NST, VID, FSP, AB and FT', () => {
  it('the README shows exactly the code this file runs, and its imports exist', () => {
    const readme = readmeSnippets();
    const own = ownSnippets();
    expect([...readme.keys()].sort()).toEqual([...own.keys()].sort());
    expect(own.size).toBe(7);
    const modules: Record<string, Record<string, unknown>> = { '@kd/core': core, '@kd/fitnet': fitnetPackage };
    for (const [name, body] of own) {
      expect(readme.get(name)!.body, `snippet ${name}`).toEqual(body);
      for (const line of readme.get(name)!.imports) {
        const named = /^import \{ (.+) \} from '(@kd\/[a-z-]+)';$/.exec(line);
        if (!named) continue; // side-effect and namespace imports of tfjs
        for (const item of named[1]!.split(',').map((s) => s.trim().replace(/^type /, ''))) {
          expect(modules[named[2]!]?.[item], `${name}: ${item} from ${named[2]}`).toBeDefined();
        }
      }
    }
  });

  it('nst', async () => {
    // snippet:nst
    const nstRun = new Distiller({ teacher, student, optimizer: tf.train.sgd(0.01) })
      .use(hardLabel())
      .use(neuronSelectivityTransfer({ pairs: [{ student: 'student_relu2', teacher: 'teacher_relu2' }] })); // 4x4 vs 4x4
    console.log(nstRun.describe()); // Loss = 1*ce + 50*nst
    await nstRun.fit({ x, y }, { epochs: 1, batchSize: 32 });
    nstRun.dispose();
    // end snippet
  });

  it('nst pooling', async () => {
    // snippet:nstPooled
    // teacher_relu1 is 8x8, student_relu1 4x4: the teacher map is average-pooled 2x2 first
    const pooled = new Distiller({ teacher, student, optimizer: tf.train.sgd(0.01) }).use(
      neuronSelectivityTransfer({ pairs: [{ student: 'student_relu1', teacher: 'teacher_relu1' }], weight: 50 }),
    );
    await pooled.fit({ x, y }, { epochs: 1, batchSize: 32 });
    pooled.dispose();
    // end snippet
  });

  it('vid', async () => {
    // snippet:vid
    const vidRun = new Distiller({ teacher, student, optimizer: tf.train.sgd(0.01) })
      .use(hardLabel())
      .use(variationalInformation({ student: 'student_relu2', teacher: 'teacher_relu2', initVariance: 5 }));
    const vidHistory = await vidRun.fit({ x, y }, { epochs: 2, batchSize: 32 });
    console.log(vidHistory.epochs.map((e) => e.terms['vid'])); // the Gaussian NLL (can go below 0)
    vidRun.dispose(); // frees the regressor
    // end snippet
  });

  it('fsp', async () => {
    // snippet:fsp
    const wide = convNet('wide', [16, 32], [1, 2]); // FSP matrices need the teacher's channel counts
    const fspOptimizers = [tf.train.sgd(0.01), tf.train.sgd(0.01)];
    await fitStages(
      {
        student: wide,
        teacher,
        stages: [
          {
            name: 'fsp',
            plugins: [flowOfSolution({ pairs: [{ student: ['wide_relu1', 'wide_relu2'], teacher: ['teacher_relu1', 'teacher_relu2'] }] })],
            epochs: 2,
            optimizer: fspOptimizers[0]!,
            trainable: trainStudentUpTo(wide, 'wide_relu2'), // the feature layers, not the classifier
          },
          { name: 'kd', plugins: [hardLabel(), softTargets({ temperature: 4, weight: 0.9 })], epochs: 2, optimizer: fspOptimizers[1]! },
        ],
      },
      { x, y },
    );
    fspOptimizers.forEach((o) => o.dispose());
    wide.dispose();
    // end snippet
  });

  it('ab', async () => {
    // snippet:ab
    const abOptimizers = [tf.train.sgd(0.01), tf.train.sgd(0.01)];
    await fitStages(
      {
        student,
        teacher,
        stages: [
          {
            name: 'ab',
            plugins: [activationBoundary({ student: 'student_conv2', teacher: 'teacher_conv2', margin: 1 })], // pre-ReLU maps
            epochs: 2,
            optimizer: abOptimizers[0]!,
            trainable: trainStudentUpTo(student, 'student_conv2'),
          },
          { name: 'kd', plugins: [hardLabel(), softTargets({ temperature: 4, weight: 0.9 })], epochs: 2, optimizer: abOptimizers[1]! },
        ],
      },
      { x, y },
    );
    abOptimizers.forEach((o) => o.dispose());
    // end snippet
  });

  it('ft', async () => {
    // snippet:ft
    const paraphraser = new Paraphraser({ rate: 0.5 }); // created once, passed to both stages
    const ftOptimizers = [tf.train.sgd(0.01), tf.train.sgd(0.01)];
    await fitStages(
      {
        student,
        teacher,
        stages: [
          {
            name: 'paraphrase',
            plugins: [paraphraserTraining({ teacher: 'teacher_relu2', paraphraser })],
            epochs: 2,
            optimizer: ftOptimizers[0]!,
            trainable: paraphraser.trainableFilter(), // only the paraphraser learns here
          },
          {
            name: 'transfer',
            plugins: [hardLabel(), factorTransfer({ student: 'student_relu2', teacher: 'teacher_relu2', paraphraser })],
            epochs: 2,
            optimizer: ftOptimizers[1]!,
          },
        ],
      },
      { x, y },
    );
    ftOptimizers.forEach((o) => o.dispose());
    paraphraser.dispose(); // the stages never dispose it
    // end snippet
  });
});
