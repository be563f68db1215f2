import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveModel } from '@kd/core/node';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainFromConfig } from '../src/run/train';

// A GraphModel teacher (the format tfjs-converter writes for TensorFlow SavedModels) loads
// through the optional peer @tensorflow/tfjs-converter: written by hand here as the graph of a
// linear LayersModel (Reshape, MatMul, BiasAdd), both must teach the same student, bit for bit.
let dir: string;
const quiet = { log: () => undefined };

const config = (teacher: string) => `seed: 3
backend: cpu
data: { source: mnistDigits, limit: { train: 400, test: 100 } }
teacher: { model: ${teacher} }
student: { builder: mlp, options: { hidden: [8] } }
methods:
  - { method: hardLabel, weight: 0.5 }
  - { method: softTargets, temperature: 3, weight: 0.5 }
training: { epochs: 1, batchSize: 50 }
`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kd-graph-'));
  await tf.setBackend('cpu');
  const layers = tfl.sequential({
    layers: [
      tfl.layers.flatten({ inputShape: [28, 28, 1] }),
      tfl.layers.dense({ units: 10, kernelInitializer: tfl.initializers.glorotUniform({ seed: 7 }), biasInitializer: 'randomNormal' }),
    ],
  });
  await saveModel(layers, join(dir, 'layers'));
  const [kernel, bias] = await Promise.all(layers.getWeights().map((w) => w.data() as Promise<Float32Array>));
  layers.dispose();
  const node = (name: string, op: string, input: string[], attr: Record<string, unknown>) => ({ name, op, input, attr });
  const float = { type: 'DT_FLOAT' };
  const graph = {
    format: 'graph-model',
    generatedBy: 'kd test',
    convertedBy: 'hand',
    modelTopology: {
      node: [
        node('x', 'Placeholder', [], {
          dtype: float,
          shape: { shape: { dim: [{ size: '-1' }, { size: '28' }, { size: '28' }, { size: '1' }] } },
        }),
        node('flat', 'Const', [], {
          dtype: { type: 'DT_INT32' },
          value: { tensor: { dtype: 'DT_INT32', tensorShape: { dim: [{ size: '2' }] } } },
        }),
        node('kernel', 'Const', [], {
          dtype: float,
          value: { tensor: { dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: '784' }, { size: '10' }] } } },
        }),
        node('bias', 'Const', [], { dtype: float, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: '10' }] } } } }),
        node('reshape', 'Reshape', ['x', 'flat'], { T: float }),
        node('matmul', 'MatMul', ['reshape', 'kernel'], { T: float, transpose_a: { b: false }, transpose_b: { b: false } }),
        node('logits', 'BiasAdd', ['matmul', 'bias'], { T: float }),
      ],
      library: {},
      versions: { producer: 1 },
    },
    weightsManifest: [
      {
        paths: ['weights.bin'],
        weights: [
          { name: 'flat', shape: [2], dtype: 'int32' },
          { name: 'kernel', shape: [784, 10], dtype: 'float32' },
          { name: 'bias', shape: [10], dtype: 'float32' },
        ],
      },
    ],
  };
  const bytes = Buffer.concat([Buffer.from(new Int32Array([-1, 784]).buffer), Buffer.from(kernel!.buffer), Buffer.from(bias!.buffer)]);
  await mkdir(join(dir, 'graph'));
  await writeFile(join(dir, 'graph', 'model.json'), JSON.stringify(graph));
  await writeFile(join(dir, 'graph', 'weights.bin'), bytes);
  await writeFile(join(dir, 'layers.yaml'), config('layers/model.json'));
  await writeFile(join(dir, 'graph.yaml'), config('graph/model.json'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a GraphModel teacher', () => {
  it('teaches the same student as the LayersModel it was written from', async () => {
    const fromLayers = await trainFromConfig(join(dir, 'layers.yaml'), { ...quiet, out: join(dir, 'run-layers') });
    const fromGraph = await trainFromConfig(join(dir, 'graph.yaml'), { ...quiet, out: join(dir, 'run-graph') });
    expect(fromGraph.teacher).toEqual(fromLayers.teacher);
    const weights = (run: string) => readFile(join(dir, run, 'student', 'weights.bin'));
    expect(Buffer.compare(await weights('run-layers'), await weights('run-graph'))).toBe(0);
  }, 60_000);
});
