import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { disposeData, mlp, toyData } from '../test/helpers';
import { canFreeAbandonedTape, Distiller } from './distiller';
import { sgd } from './optimizers/sgd';
import { hardLabel } from './plugins/hardLabel';

describe("freeing a failed step's tape (a private tfjs field, feature-detected)", () => {
  it(`tfjs ${tf.version_core} has engine().state.gradientDepth and activeTape (widen the peer range only when this passes)`, () => {
    expect(canFreeAbandonedTape()).toBe(true);
    // Inside a gradient computation the tape must be an array of nodes with their saved tensors.
    let seen: unknown;
    const x = tf.variable(tf.ones([2]));
    const { value, grads } = tf.variableGrads(() => {
      const y = tf.sum(tf.square(x)) as tf.Scalar;
      const state = tf.engine().state as unknown as { activeTape?: { saved?: unknown[] }[]; gradientDepth?: number };
      seen = { isArray: Array.isArray(state.activeTape), nodes: state.activeTape?.length ?? 0, depth: state.gradientDepth };
      return y;
    }, [x]);
    expect(seen).toMatchObject({ isArray: true, depth: 1 });
    expect((seen as { nodes: number }).nodes).toBeGreaterThan(0);
    tf.dispose([x, value, ...Object.values(grads)]);
  });

  it('a loss that throws inside the tape leaves no tensor behind', async () => {
    const data = toyData(16, 4, 3, 2);
    const student = mlp(4, 6, 3, 3);
    const optimizer = sgd({ learningRate: 0.1 });
    const before = tf.memory().numTensors;
    const d = new Distiller({ student, optimizer }).use(hardLabel()).use({
      name: 'boom',
      loss: ({ student: s }) => {
        tf.mul(s.logits, 2); // saved by the tape for the backward pass
        throw new Error('boom');
      },
    });
    await expect(d.fit(data, { epochs: 1, batchSize: 8 })).rejects.toThrow('boom');
    d.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(optimizer.iterations).toBe(0);
    optimizer.dispose();
    student.dispose();
    disposeData(data);
  });
});
