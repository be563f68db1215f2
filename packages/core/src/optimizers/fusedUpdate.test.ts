import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../test/helpers';
import { adam } from './adam';
import { FUSED_UPDATE_KERNELS } from './fusedUpdate';
import { sgd } from './sgd';

interface CpuBackend {
  readSync(dataId: object): Float32Array;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

/** A cpu kernel of the Adam contract (float32 op by op), as a backend package would register it; counts its calls. */
let calls = 0;
const f = Math.fround;
function adamOnCpu({ inputs, attrs, backend }: { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: unknown }) {
  calls++;
  const b = backend as CpuBackend;
  const [w, g, m, v] = (['variable', 'gradient', 'm', 'v'] as const).map((k) => b.readSync(inputs[k]!.dataId));
  const a = attrs as Record<string, number>;
  const n = w!.length;
  const [w1, m1, v1] = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
  for (let i = 0; i < n; i++) {
    m1[i] = f(f(m![i]! * f(a.beta1!)) + f(g![i]! * f(1 - a.beta1!)));
    v1[i] = f(f(v![i]! * f(a.beta2!)) + f(f(g![i]! * g![i]!) * f(1 - a.beta2!)));
    const d = f(f(f(Math.sqrt(v1[i]!)) / f(a.correction!)) + f(a.epsilon!));
    w1[i] = f((a.decay === 1 ? w![i]! : f(w![i]! * f(a.decay!))) - f(f(m1[i]! / d) * f(a.stepSize!)));
  }
  const shape = inputs.variable!.shape;
  return [w1, m1, v1].map((values) => b.makeTensorInfo(shape, 'float32', values));
}

/** 100 Adam steps on two variables from fixed gradients; with a checkpoint after 40 when `resumeAt`. */
function train(resumeAt?: number) {
  const vars = tf.tidy(() => [
    tf.variable(tf.randomNormal([6, 4], 0, 1, 'float32', 1)),
    tf.variable(tf.randomNormal([4], 0, 1, 'float32', 2)),
  ]);
  let optimizer = adam({ learningRate: 0.01 });
  for (let t = 1; t <= 100; t++) {
    if (t === resumeAt) {
      const saved = optimizer.saveState(vars).map((s) => s.tensor.clone());
      const iterations = optimizer.iterations;
      optimizer.dispose();
      optimizer = adam({ learningRate: 0.01 });
      optimizer.restoreState(iterations, saved, vars);
      tf.dispose(saved);
    }
    tf.tidy(() => {
      const grads = Object.fromEntries(vars.map((v, i) => [v.name, tf.randomNormal(v.shape, 0, 1, 'float32', 1000 * t + i)]));
      optimizer.applyGradients(grads);
    });
  }
  const values = vars.map((v) => Array.from(v.dataSync()));
  optimizer.dispose();
  tf.dispose(vars);
  return values;
}

describe('fused optimizer updates: kd optimizers dispatch a registered update kernel', () => {
  let plainRun: number[][];
  beforeAll(() => {
    plainRun = train();
    tf.registerKernel({ kernelName: FUSED_UPDATE_KERNELS.adam, backendName: 'cpu', kernelFunc: adamOnCpu as unknown as tf.KernelFunc });
  });
  afterAll(() => tf.unregisterKernel(FUSED_UPDATE_KERNELS.adam, 'cpu'));

  it('Adam runs one kernel per variable and step, equal to the plain ops to 1e-6 relative after 100 steps', () => {
    calls = 0;
    const before = tf.memory().numTensors;
    const fused = train();
    expect(tf.memory().numTensors).toBe(before);
    expect(calls).toBe(200);
    const worst = Math.max(
      ...fused.flatMap((row, i) => row.map((x, j) => Math.abs(x - plainRun[i]![j]!) / Math.max(Math.abs(plainRun[i]![j]!), 1e-3))),
    );
    expect(worst).toBeLessThan(1e-6);
  });

  it('checkpoints and resumes the fused path bit-exactly', () => {
    expect(train(40)).toEqual(train());
  });

  it('SGD without a registered kernel keeps its plain ops', () => {
    const w = tf.tidy(() => tf.variable(tf.ones([3])));
    const optimizer = sgd({ learningRate: 0.5 });
    tf.tidy(() => optimizer.applyGradients({ [w.name]: tf.tensor1d([1, 2, 3]) }));
    expect(Array.from(w.dataSync())).toEqual([0.5, 0, -0.5]);
    optimizer.dispose();
    w.dispose();
  });
});
