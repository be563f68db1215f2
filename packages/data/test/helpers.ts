import '@tensorflow/tfjs-backend-cpu';
import { type DataSource, Distiller, hardLabel, sgd } from '@kd/core';
import { expectRefused, leakedTensors } from '@kd/testing';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { expect } from 'vitest';

await tf.setBackend('cpu');

export { expectRefused, leakedTensors };

/** One bad input of the battery: a label, the call, the code it must throw, a fragment of the message. */
export type BadInput = readonly [label: string, call: () => unknown, code: string, fragment: string | RegExp];

const PLANE = 1024;
/** The pixel byte of image `k`, channel `c` (0 R, 1 G, 2 B) at row `h`, column `w`. */
export const cifarPixel = (k: number, c: number, h: number, w: number) => (k * 31 + c * 85 + h * 7 + w * 3) % 256;

/** CIFAR records: per image, its label bytes then the R, G and B planes (row by row). */
export function cifarBytes(labels: readonly (readonly number[])[]): Uint8Array {
  const record = labels[0]!.length + 3 * PLANE;
  const out = new Uint8Array(labels.length * record);
  labels.forEach((l, k) => {
    const base = k * record;
    out.set(l, base);
    for (let c = 0; c < 3; c++) {
      for (let h = 0; h < 32; h++) {
        for (let w = 0; w < 32; w++) out[base + l.length + c * PLANE + h * 32 + w] = cifarPixel(k, c, h, w);
      }
    }
  });
  return out;
}

/**
 * One epoch of `hardLabel` with SGD on `source` (batches of 4): finite loss, the student's first
 * weight changed, no tensor left behind.
 */
export async function expectOneEpochTrains(student: tfl.LayersModel, source: DataSource): Promise<void> {
  const before = Array.from(student.getWeights()[0]!.dataSync());
  const optimizer = sgd({ learningRate: 0.1 });
  const leaked = await leakedTensors(async () => {
    const distiller = new Distiller({ student, optimizer }).use(hardLabel());
    const history = await distiller.fit(source, { epochs: 1, batchSize: 4 });
    expect(history.epochs).toHaveLength(1);
    expect(Number.isFinite(history.epochs[0]!.loss)).toBe(true);
    distiller.dispose();
  });
  expect(leaked).toBe(0);
  expect(Array.from(student.getWeights()[0]!.dataSync())).not.toEqual(before);
  optimizer.dispose();
}
